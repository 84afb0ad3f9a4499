"""``python -m notifier worker [--once]``: deliver status-change notifications from the outbox (Zalo OA, web chat; with
NOTIFY_POLL_INTERVAL_S > 0 and STATUS_BACKEND=http also polls the one-stop system for changed statuses).

Several workers may run at once (replicas): each notification is claimed by one of them.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from datetime import datetime, timedelta


def build_worker(settings):
    """The worker of ``settings``: the services database's outbox, the Zalo and web chat notifiers."""
    from core.db import VN_TZ, shared_database
    from core.notifications.outbox import Outbox
    from core.notifications.subscriptions import subscriptions_from_settings
    from core.notifications.worker import Worker, rules_from_settings
    from core.tracker_db import TrackerDb, tracker_source
    from core.zalo_tokens import TokenStore
    from notifier.web import WEB_CHANNELS, WebChatNotifier
    from notifier.zalo import ZaloNotifier, token_exchange
    from staff_api.rasa_client import RasaClient

    tracker = TrackerDb(tracker_source(settings))

    def last_seen(sender_id: str) -> datetime | None:
        epoch = tracker.last_user_message_at(sender_id)
        return datetime.fromtimestamp(epoch, tz=VN_TZ) if epoch is not None else None

    tokens = TokenStore(settings.zalo_token_store, settings.zalo_access_token, settings.zalo_refresh_token)
    exchange = token_exchange(settings.zalo_oauth_base, settings.zalo_app_id, settings.zalo_secret_key)

    def refresh(rejected_token: str) -> bool:
        return tokens.refresh(rejected_token, exchange)

    can_refresh = bool(settings.zalo_app_id and settings.zalo_secret_key)
    zalo = ZaloNotifier(settings.zalo_api_base, tokens.current, last_seen,
                        cs_window=timedelta(hours=settings.zalo_cs_window_hours),
                        refresh=refresh if can_refresh else None)
    web = WebChatNotifier(RasaClient(settings.rasa_url, settings.rasa_api_token or None))
    notifiers = {"zalo": zalo, **{channel: web for channel in WEB_CHANNELS}}
    return Worker(Outbox(shared_database(settings), lease_s=settings.notify_lease_s),
                  subscriptions_from_settings(settings), notifiers,
                  rules=rules_from_settings(settings))


def poll_loop(settings, stop: threading.Event) -> None:
    """Ask the one-stop system about the followed codes every NOTIFY_POLL_INTERVAL_S seconds."""
    from core.db import shared_database
    from core.notifications.subscriptions import subscriptions_from_settings
    from core.notifications.webhook import poll_statuses
    from core.status.answer import default_hotline
    from core.status.base import StatusBackendError
    from core.status.factory import status_backend_from_settings

    backend = status_backend_from_settings(settings)
    subscriptions = subscriptions_from_settings(settings)
    while not stop.wait(settings.notify_poll_interval_s):
        try:
            found = poll_statuses(shared_database(settings), subscriptions.codes(), backend.statuses,
                                  hotline=default_hotline())
        except StatusBackendError as exc:
            logging.getLogger(__name__).warning("status poll failed: %s", exc)
            continue
        if found:
            logging.getLogger(__name__).info("status poll: %d changes", found)


def main(argv: list[str] | None = None) -> int:
    """Run the worker until SIGINT / SIGTERM (or one batch with ``--once``)."""
    from core.privacy import install_pii_log_filter
    from settings import get_settings

    parser = argparse.ArgumentParser(description="Gửi thông báo thay đổi trạng thái hồ sơ")
    parser.add_argument("command", choices=["worker"])
    parser.add_argument("--once", action="store_true", help="handle one batch and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_pii_log_filter()
    settings = get_settings()
    worker = build_worker(settings)
    if args.once:
        print(worker.run_once())
        return 0
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if settings.notify_poll_interval_s > 0 and settings.status_backend == "http":
        threading.Thread(target=poll_loop, args=(settings, stop), name="status-poll", daemon=True).start()
    worker.run(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
