"""Delivery adapters of the status-change notifications (issue 17) and the worker's command line
(``python -m notifier worker``): the Zalo OA notifier (notifier/zalo.py) and the web chat
notifier (notifier/web.py); the core rules live in :mod:`core.notifications`."""
