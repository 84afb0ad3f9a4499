-- Help-desk console (issue 6): staff accounts, sessions, audit log. Keep in step with
-- ../sqlite/0002_console_staff.sql.

CREATE TABLE console_users (
    name                 TEXT PRIMARY KEY,
    password_hash        TEXT NOT NULL,
    role                 TEXT NOT NULL CHECK (role IN ('officer', 'supervisor')),
    must_change_password INTEGER NOT NULL DEFAULT 1,
    disabled             INTEGER NOT NULL DEFAULT 0,
    created_at           TIMESTAMPTZ NOT NULL,
    password_changed_at  TIMESTAMPTZ
);

CREATE TABLE console_sessions (
    token_hash   TEXT PRIMARY KEY,
    user_name    TEXT NOT NULL REFERENCES console_users(name) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX console_sessions_user ON console_sessions (user_name);

CREATE TABLE console_audit (
    id      BIGSERIAL PRIMARY KEY,
    at      TIMESTAMPTZ NOT NULL,
    staff   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT,
    detail  TEXT
);
CREATE INDEX console_audit_at ON console_audit (at);
