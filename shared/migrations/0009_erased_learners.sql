-- Learners whose personal data this service erased (LearnerErasureRequested, README "Erasing a
-- learner"). Not a read model: a replay keeps it, so events published before the erasure and read
-- again cannot bring the data back (each service erases again what such an event wrote).
-- Numbered 0009 so that it never clashes with platform migrations being written elsewhere.
CREATE TABLE erased_learners (
    learner_id   text        PRIMARY KEY,
    uai          text        NOT NULL,
    requested_at timestamptz NOT NULL,
    erased_at    timestamptz NOT NULL,
    rows_erased  integer     NOT NULL DEFAULT 0
);
