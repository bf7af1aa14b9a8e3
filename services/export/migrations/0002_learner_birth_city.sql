-- The learner's birth city from the roster (LearnerRegistered / LearnerUpdated ``birth_city``):
-- the class CSV's "Lieu de naissance" when the certification result carries no birthplace
-- (results read from the livret JSON have none). Filled by the roster handlers; rows stored
-- before this column existed get it from the learner's next update or a replay.
ALTER TABLE learners ADD COLUMN birth_city text;
