-- Review queue (issue 16): citizens' questions the bot did not serve well, grouped by normalised wording (masked
-- before they are stored), and the officers' proposals with the supervisors' decisions.
-- Keep in step with ../sqlite/0007_review_queue.sql.
-- depends: 0006_notifications

-- status: open (nothing proposed) | proposed (a decision waits for a supervisor) | approved | rejected.
CREATE TABLE review_items (
    id         BIGSERIAL PRIMARY KEY,
    group_key  TEXT NOT NULL UNIQUE,
    question   TEXT NOT NULL,
    reasons    TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'open',
    first_seen TIMESTAMPTZ NOT NULL,
    last_seen  TIMESTAMPTZ NOT NULL
);
CREATE INDEX review_items_status ON review_items (status, last_seen);

-- One row per conversation question seen (sighting_key: a hash of the sender and the masked text, never the sender
-- itself), so reading the tracker store again counts nothing twice.
CREATE TABLE review_sightings (
    sighting_key TEXT PRIMARY KEY,
    item_id      BIGINT NOT NULL REFERENCES review_items(id) ON DELETE CASCADE,
    question     TEXT NOT NULL,
    seen_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX review_sightings_item ON review_sightings (item_id);

-- kind: link (code) | out_of_scope (reason) | faq (draft); state: pending | approved | rejected | replaced (a newer
-- proposal for the same item came before a decision).
CREATE TABLE review_decisions (
    id          BIGSERIAL PRIMARY KEY,
    item_id     BIGINT NOT NULL REFERENCES review_items(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    code        TEXT,
    reason      TEXT,
    draft       TEXT,
    proposed_by TEXT NOT NULL,
    proposed_at TIMESTAMPTZ NOT NULL,
    state       TEXT NOT NULL DEFAULT 'pending',
    decided_by  TEXT,
    decided_at  TIMESTAMPTZ
);
CREATE INDEX review_decisions_item ON review_decisions (item_id, state);
