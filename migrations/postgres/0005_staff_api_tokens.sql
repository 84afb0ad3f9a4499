-- Personal staff API tokens (issue 13): each officer's own bearer token, so the staff API records who acted.
-- Only the SHA-256 of a token is stored. Keep in step with ../sqlite/0005_staff_api_tokens.sql.
-- depends: 0004_lookup_attempts_client

CREATE TABLE staff_api_tokens (
    token_hash TEXT PRIMARY KEY,
    user_name  TEXT NOT NULL REFERENCES console_users(name) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX staff_api_tokens_user ON staff_api_tokens (user_name);
