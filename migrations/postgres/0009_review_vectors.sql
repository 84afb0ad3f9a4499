-- Review queue (issue 16): groups by meaning. Each group keeps the vector of its representative wording (the search
-- encoder's embedding of the first masked question, float32 little-endian in base64; NULL when the group was
-- made without the encoder), and a new question joins the nearest group above REVIEW_GROUP_SIMILARITY.
-- Keep in step with ../sqlite/0009_review_vectors.sql.
-- depends: 0008_notification_attempts

ALTER TABLE review_items ADD COLUMN vector TEXT;
-- A wording already seen is placed in the group it joined before without embedding it again.
CREATE INDEX review_sightings_question ON review_sightings (question);
