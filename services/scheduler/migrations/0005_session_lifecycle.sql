-- Issue 16 items 2 and 3 (0004 is left to the Pix Certif link, developed alongside).
-- A session's lifecycle: planned → convoked → started → finalised → results received → exported.
-- first_test_started_at and finalised_at exist already; the other steps are dated here, each from
-- the event that tells the scheduler (ConvocationsIssued it raises, ResultsProcessed, LivretExportProduced).
ALTER TABLE sessions
    ADD COLUMN convoked_at         timestamptz,
    ADD COLUMN results_received_at timestamptz,
    ADD COLUMN exported_at         timestamptz;

-- A candidate's outcome as the finalisation recorded it; absent and aborted candidates are released
-- (released_at) and may be enrolled again, in a catch-up session: they no longer hold the learner.
-- adapted_conditions: the accessibility arrangements printed on the kit and the attendance sheet.
ALTER TABLE candidates
    ADD COLUMN outcome            text CHECK (outcome IN ('completed', 'absent', 'aborted')),
    ADD COLUMN released_at        timestamptz,
    ADD COLUMN adapted_conditions text;
CREATE INDEX candidates_held_by_learner ON candidates (learner_id) WHERE released_at IS NULL;
