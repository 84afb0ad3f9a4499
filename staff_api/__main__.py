"""``python -m staff_api [--host 127.0.0.1] [--port 5056]``: serve the staff API (Sanic, one process)."""

from __future__ import annotations

import argparse
import logging
import sys


def main(argv: list[str] | None = None) -> int:
    """Build the stores and the Rasa client from the settings and serve until interrupted."""
    from console.auth import AccountStore
    from core.db import shared_database
    from core.feedback import FeedbackStore
    from core.handoff import HandoffStore
    from core.notifications.webhook import StatusWebhook
    from core.privacy import install_pii_log_filter
    from core.status.answer import default_hotline
    from core.status.factory import status_backend_from_settings
    from settings import get_settings
    from staff_api.app import create_app
    from staff_api.rasa_client import RasaClient

    settings = get_settings()
    parser = argparse.ArgumentParser(description="API cho cán bộ (handoff, phản ánh)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=settings.staff_api_port)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_pii_log_filter()
    db = shared_database(settings)
    db.ensure_schema()
    backend = []

    def status():
        if not backend:
            backend.append(status_backend_from_settings(settings))
        return backend[0]

    webhook = StatusWebhook(db, settings.status_webhook_secret, default_hotline(),
                            window_s=settings.status_webhook_window_s) if settings.status_webhook_secret else None
    try:
        app = create_app(HandoffStore(db), FeedbackStore(db),
                         RasaClient(settings.rasa_url, settings.rasa_api_token or None), settings.staff_api_token,
                         accounts=AccountStore(db), status=status, status_webhook=webhook)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    app.run(host=args.host, port=args.port, single_process=True, access_log=False, motd=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
