-- An erased learner (README "Erasing a learner") keeps its row, so counts stay, without its
-- personal data: the INE and sex become NULL (the other fields take blank or tombstone values, see
-- shared/erasure.py). A NULL INE also keeps the learner out of roster and campaign matching.
-- Numbered 0009: other migrations are being written concurrently with lower numbers.
ALTER TABLE learners ALTER COLUMN ine DROP NOT NULL;
ALTER TABLE learners ALTER COLUMN sex DROP NOT NULL;
