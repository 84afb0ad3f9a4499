"""The Rasa server process's setup, in one place: run when Rasa builds the channels, never at import.

Rasa has no start-up hook of its own for a project, but it builds every input channel named in credentials.yml
once, through the channel's ``from_credentials``, when the server starts: before the model is loaded, the first
message is handled or the first action is called. Each channel of this package calls :func:`setup` there, so any
command that starts Rasa with them (``rasa run --credentials ...``: scripts/run.sh, scripts/stack.py,
scripts/scaled_profile.py) gets it, and importing a channel module (tests, the staff API's helpers) changes nothing.

The action server's counterpart is ``rasa_sdk_plugins.init_hooks``.
"""

from __future__ import annotations


def setup() -> None:
    """Prepare this process to serve the channels (idempotent: every channel of the process calls it).

    * Personal data masked in every log record: the Rasa process logs user text at DEBUG level and in failure
      records (core/privacy.py, as on the action server).
    * Rasa's action-response validation with a precompiled schema (channels/speedups.py).
    """
    from channels import speedups
    from core.privacy import install_pii_log_filter

    install_pii_log_filter()
    speedups.install()
