"""Action-server extensions, found by rasa-sdk's plugin hook (``rasa_sdk.plugin`` imports ``rasa_sdk_plugins``
and calls :func:`init_hooks`): the knowledge index check at startup and ``GET /health/knowledge``.

Needs the repository root on ``PYTHONPATH`` (``make run`` and the tests set it).
"""

from __future__ import annotations

import pluggy

hookimpl = pluggy.HookimplMarker("rasa_sdk")


class KnowledgeIndexHealthPlugin:
    """Adds the knowledge index health route and startup check (actions/services/index_health.py)."""

    @hookimpl
    def attach_sanic_app_extensions(self, app) -> None:
        """Called by rasa-sdk with its Sanic app before the server starts."""
        from actions.services.index_health import attach

        attach(app)


def init_hooks(manager: pluggy.PluginManager) -> None:
    """rasa-sdk's entry point for plugins."""
    manager.register(KnowledgeIndexHealthPlugin())
