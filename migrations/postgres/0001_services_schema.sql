-- Services schema (PostgreSQL dialect). Keep in step with ../sqlite/0001_services_schema.sql.

CREATE TABLE applications (
    code                TEXT PRIMARY KEY,
    procedure_code      TEXT NOT NULL,
    procedure_name      TEXT NOT NULL,
    applicant_name      TEXT NOT NULL,
    applicant_phone     TEXT NOT NULL,
    applicant_id_number TEXT NOT NULL,
    received_at         TIMESTAMPTZ NOT NULL,
    due_at              TIMESTAMPTZ NOT NULL,
    status              TEXT NOT NULL,
    status_since        TIMESTAMPTZ NOT NULL,
    agency              TEXT NOT NULL,
    missing_documents   TEXT NOT NULL DEFAULT '[]',
    result_pickup       TEXT,
    rejection_reason    TEXT,
    source              TEXT NOT NULL DEFAULT 'manual'
);

CREATE TABLE application_events (
    code   TEXT NOT NULL REFERENCES applications(code) ON DELETE CASCADE,
    seq    INTEGER NOT NULL,
    status TEXT NOT NULL,
    at     TIMESTAMPTZ NOT NULL,
    agency TEXT NOT NULL,
    note   TEXT,
    PRIMARY KEY (code, seq)
);

CREATE TABLE lookup_attempts (
    id       BIGSERIAL PRIMARY KEY,
    sender   TEXT NOT NULL,
    code     TEXT NOT NULL,
    at_epoch DOUBLE PRECISION NOT NULL,
    success  BOOLEAN NOT NULL
);
CREATE INDEX lookup_attempts_sender ON lookup_attempts (sender, at_epoch);
CREATE INDEX lookup_attempts_code ON lookup_attempts (code, at_epoch);

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE feedback_reports (
    code       TEXT PRIMARY KEY,
    topic      TEXT NOT NULL,
    content    TEXT NOT NULL,
    location   TEXT NOT NULL,
    contact    TEXT,
    consent    BOOLEAN NOT NULL,
    sender_id  TEXT NOT NULL,
    channel    TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE feedback_events (
    id     BIGSERIAL PRIMARY KEY,
    code   TEXT NOT NULL REFERENCES feedback_reports(code) ON DELETE CASCADE,
    status TEXT NOT NULL,
    note   TEXT,
    staff  TEXT,
    at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX feedback_events_code ON feedback_events (code, id);

CREATE TABLE handoff_tickets (
    id         TEXT PRIMARY KEY,
    sender_id  TEXT NOT NULL,
    channel    TEXT NOT NULL,
    reason     TEXT NOT NULL,
    transcript TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    closed_at  TIMESTAMPTZ,
    closed_by  TEXT
);
CREATE UNIQUE INDEX handoff_one_open_per_sender ON handoff_tickets (sender_id) WHERE status = 'open';

CREATE TABLE handoff_replies (
    id           BIGSERIAL PRIMARY KEY,
    ticket_id    TEXT NOT NULL REFERENCES handoff_tickets(id) ON DELETE CASCADE,
    sender_id    TEXT NOT NULL,
    text         TEXT NOT NULL,
    staff        TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    delivered_at TIMESTAMPTZ
);
CREATE INDEX handoff_replies_pending ON handoff_replies (sender_id, delivered_at);
