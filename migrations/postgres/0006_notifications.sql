-- Status-change notifications (issue 17): citizens' subscriptions, the status events received or made, the outbox
-- the worker delivers from (written in the same transaction as the status change) and the delivery log.
-- Keep in step with ../sqlite/0006_notifications.sql.
-- depends: 0005_staff_api_tokens

CREATE TABLE notification_subscriptions (
    id         BIGSERIAL PRIMARY KEY,
    channel    TEXT NOT NULL,
    sender_id  TEXT NOT NULL,
    code       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (channel, sender_id, code)
);
CREATE INDEX notification_subscriptions_code ON notification_subscriptions (code);

-- One row per status change (made here, or received from the one-stop system by webhook or polling); event_id is
-- the sender's id, so a replayed webhook is recognised.
CREATE TABLE status_change_events (
    event_id    TEXT PRIMARY KEY,
    code        TEXT NOT NULL,
    old_status  TEXT,
    new_status  TEXT NOT NULL,
    source      TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX status_change_events_at ON status_change_events (received_at);

-- The last status the polling fallback saw for each code (the baseline a change is measured against).
CREATE TABLE status_poll_state (
    code       TEXT PRIMARY KEY,
    status     TEXT NOT NULL,
    checked_at TIMESTAMPTZ NOT NULL
);

-- state: pending (due at next_attempt_at) | sending (claimed until lease_until) | sent | failed (given up).
CREATE TABLE notification_outbox (
    id              BIGSERIAL PRIMARY KEY,
    event_id        TEXT NOT NULL REFERENCES status_change_events(event_id),
    channel         TEXT NOT NULL,
    sender_id       TEXT NOT NULL,
    code            TEXT NOT NULL,
    text            TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    claimed_by      TEXT,
    lease_until     TIMESTAMPTZ,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    sent_at         TIMESTAMPTZ,
    UNIQUE (event_id, channel, sender_id)
);
CREATE INDEX notification_outbox_due ON notification_outbox (state, next_attempt_at);
CREATE INDEX notification_outbox_recipient ON notification_outbox (channel, sender_id, sent_at);

-- One row per outcome: sent, retry (failed, will be retried), failed (given up), held (quiet hours / rate limit).
CREATE TABLE notification_log (
    id        BIGSERIAL PRIMARY KEY,
    outbox_id BIGINT NOT NULL REFERENCES notification_outbox(id) ON DELETE CASCADE,
    at        TIMESTAMPTZ NOT NULL,
    outcome   TEXT NOT NULL,
    attempt   INTEGER NOT NULL,
    route     TEXT,
    error     TEXT
);
CREATE INDEX notification_log_at ON notification_log (at);
CREATE INDEX notification_log_outbox ON notification_log (outbox_id);
