"""Action-server extensions, found by rasa-sdk's plugin hook (``rasa_sdk.plugin`` imports ``rasa_sdk_plugins``
and calls :func:`init_hooks`): caller authentication and the listening address (core/caller_auth.py),
the knowledge index check at startup and ``GET /health/knowledge``.

Needs the repository root on ``PYTHONPATH`` (``make run`` and the tests set it).
"""

from __future__ import annotations

import pluggy

hookimpl = pluggy.HookimplMarker("rasa_sdk")


class KnowledgeIndexHealthPlugin:
    """Adds the knowledge index health route and startup check (core/index_health.py)."""

    @hookimpl
    def attach_sanic_app_extensions(self, app) -> None:
        """Called by rasa-sdk with its Sanic app before the server starts."""
        from core.index_health import attach

        attach(app)


class CallerAuthPlugin:
    """Only callers with ACTION_SERVER_TOKEN (the Rasa server) run actions; listen on ACTION_SERVER_HOST."""

    @hookimpl
    def attach_sanic_app_extensions(self, app) -> None:
        """Called by rasa-sdk with its Sanic app before the server starts (and before it reads SANIC_HOST)."""
        from core.caller_auth import attach, bind_host

        bind_host()
        attach(app)


def init_hooks(manager: pluggy.PluginManager) -> None:
    """rasa-sdk's entry point for plugins."""
    manager.register(CallerAuthPlugin())
    manager.register(KnowledgeIndexHealthPlugin())
