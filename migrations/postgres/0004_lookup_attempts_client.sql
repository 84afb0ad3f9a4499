-- Per-client status-lookup limits (issue 13, finding 2): the hashed client of each attempt (NULL when the channel
-- authenticates its senders itself, e.g. Zalo). Keep in step with the other dialect's 0004_lookup_attempts_client.
-- depends: 0003_ratings

ALTER TABLE lookup_attempts ADD COLUMN client TEXT;
CREATE INDEX lookup_attempts_client ON lookup_attempts (client, at_epoch);
CREATE INDEX lookup_attempts_at ON lookup_attempts (at_epoch);
