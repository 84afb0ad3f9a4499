-- Effectively-once notification delivery (issue 17): a worker commits the start of each delivery attempt before
-- calling the channel, so a row reclaimed after its lease ran out, with an attempt started and no outcome recorded,
-- is known to be in doubt (the channel is asked whether the message arrived before sending it again).
-- Keep in step with ../postgres/0008_notification_attempts.sql.
-- depends: 0007_review_queue

ALTER TABLE notification_outbox ADD COLUMN attempt_started_at TEXT;
ALTER TABLE notification_outbox ADD COLUMN attempt_no INTEGER;
