-- The rebuild job's marks move from schools to classes: a roster, enrolment or session change
-- marks the classes whose files it can change (a moved learner's old class and new one), and the
-- job, or the next results of the school, re-renders only those (and the livret).
-- Append-only on purpose: a handler inserts its marks and never updates a row another partition
-- could touch, so the roster's partitions can be applied side by side; the job deletes exactly
-- the marks it read once their classes are rendered (a mark committed meanwhile stays).
CREATE TABLE stale_classes (
    mark_id      bigserial PRIMARY KEY,
    uai          text NOT NULL,
    division_key text NOT NULL,   -- casefolded division; '' for the school's livret alone
    marked_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stale_classes_by_school ON stale_classes (uai, mark_id);

-- a school marked by the previous version: every class of it, as that version would have rebuilt
INSERT INTO stale_classes (uai, division_key, marked_at)
SELECT s.uai, '*', s.marked_at FROM stale_schools s;
DROP TABLE stale_schools;

-- an enrolment change looks up the results of its candidates (usually none yet)
CREATE INDEX results_by_candidate ON results (candidate_id);
