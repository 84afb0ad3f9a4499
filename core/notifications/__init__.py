"""Status-change notifications (issue 17): citizens' subscriptions to an application, the status events and their
outbox, the delivery worker with its retry / quiet-hours / rate-limit rules, and the notification text.

Channels deliver through a :class:`core.notifications.delivery.Notifier` each; the adapters (Zalo OA, the web
chat through Rasa) live outside ``core`` (package ``notifier``).
"""
