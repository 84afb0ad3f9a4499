-- Satisfaction ratings (issue 6): the 1-5 score a citizen gives when a conversation ends. Keep in step with
-- ../postgres/0003_ratings.sql. sender_key is a hash of the sender id, never the channel's user id.
-- depends: 0002_console_staff

CREATE TABLE satisfaction_ratings (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    sender_key TEXT NOT NULL,
    channel    TEXT NOT NULL,
    rating     INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    created_at TEXT NOT NULL
);
CREATE INDEX satisfaction_ratings_at ON satisfaction_ratings (created_at);
