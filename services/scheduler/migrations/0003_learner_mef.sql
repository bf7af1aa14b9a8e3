-- The learners read model keeps each learner's SIECLE MEF code (LearnerRegistered/Updated carry it):
-- the planner chooses the certifying classes from it (domain/mef.py). Null for rows read before it
-- was kept, and for rosters without one; a replay (REBUILD_READ_MODELS) fills it in.
ALTER TABLE learners ADD COLUMN mef_code text;
