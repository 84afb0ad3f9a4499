"""Action-server extensions, found by rasa-sdk's plugin hook (``rasa_sdk.plugin`` imports ``rasa_sdk_plugins``
and calls :func:`init_hooks`): the action server's process setup, caller authentication and the listening
address (rasa_sdk_plugins/caller_auth.py), the knowledge index check at startup and ``GET /health/knowledge``.

:func:`init_hooks` is the action server's one start-up entry point: ``python -m rasa_sdk`` calls it once, after
importing the action modules and configuring logging, before the server starts. Importing this package (or any
action module) sets nothing up. The Rasa server's counterpart is ``channels.process.setup``.

Needs the repository root on ``PYTHONPATH`` (``make run`` and the tests set it).
"""

from __future__ import annotations

import pluggy

hookimpl = pluggy.HookimplMarker("rasa_sdk")


class KnowledgeIndexHealthPlugin:
    """Adds the knowledge index health route and startup check (rasa_sdk_plugins/index_health.py)."""

    @hookimpl
    def attach_sanic_app_extensions(self, app) -> None:
        """Called by rasa-sdk with its Sanic app before the server starts."""
        from rasa_sdk_plugins.index_health import attach

        attach(app)


class CallerAuthPlugin:
    """Only callers with ACTION_SERVER_TOKEN (the Rasa server) run actions; listen on ACTION_SERVER_HOST."""

    @hookimpl
    def attach_sanic_app_extensions(self, app) -> None:
        """Called by rasa-sdk with its Sanic app before the server starts (and before it reads SANIC_HOST)."""
        from rasa_sdk_plugins.caller_auth import attach, bind_host

        bind_host()
        attach(app)


def setup_process() -> None:
    """The action server's process-wide setup: phone/ID numbers, e-mails and application codes masked in every
    log record (core/privacy.py; idempotent, it wraps the log-record factory)."""
    from core.privacy import install_pii_log_filter

    install_pii_log_filter()


def init_hooks(manager: pluggy.PluginManager) -> None:
    """rasa-sdk's entry point for plugins, called once when the action server starts: the process setup, then
    the Sanic extensions."""
    setup_process()
    manager.register(CallerAuthPlugin())
    manager.register(KnowledgeIndexHealthPlugin())
