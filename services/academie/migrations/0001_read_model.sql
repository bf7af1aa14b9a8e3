-- The académie view's read model, built only from the other services' events: what each session
-- went through, the enrolments, the roster's learners and their certifiability, the livret and
-- class files. Every table here is cleared and rebuilt by a replay (REBUILD_READ_MODELS).

-- Sessions: one row per session, each column written by the event that knows it (scheduler:
-- created/updated/cancelled/convoked; finalisation: started, finalised, overdue, results), so
-- topics read in any order fill the same row. The *_at of a step keep the first time reached.
CREATE TABLE sessions (
    session_id           text PRIMARY KEY,
    uai                  text NOT NULL,
    session_number       integer,
    certification_center text,
    school_level         text CHECK (school_level IN ('college', 'lycee')),
    session_date         date,
    created_at           timestamptz,
    details_at           timestamptz,
    cancelled_at         timestamptz,
    convoked_at          timestamptz,
    started_at           timestamptz,
    finalised_at         timestamptz,
    results_at           timestamptz,
    results              integer NOT NULL DEFAULT 0,
    overdue_due_at       timestamptz,
    overdue_detected_at  timestamptz
);
CREATE INDEX sessions_by_school ON sessions (uai);

-- Enrolments (CandidatesEnrolled / CandidateUnenrolled): the candidates of each session.
CREATE TABLE candidates (
    candidate_id  text PRIMARY KEY,
    session_id    text NOT NULL,
    uai           text NOT NULL,
    unenrolled_at timestamptz
);
CREATE INDEX candidates_by_session ON candidates (session_id);

-- The roster (LearnerRegistered / LearnerUpdated / LearnerDeactivated) and each learner's latest
-- certifiability (CertifiabilityAssessed: the more recent assessment wins).
CREATE TABLE learners (
    learner_id  text PRIMARY KEY,
    uai         text    NOT NULL,
    mef_code    text,
    active      boolean NOT NULL DEFAULT true,
    status      text CHECK (status IN ('certifiable', 'not_certifiable', 'unknown')),
    assessed_at timestamptz
);
CREATE INDEX learners_by_school ON learners (uai);

-- Files the export service produced (LivretExportProduced / ClassResultsExported): the last one
-- of each school's livret level and of each class.
CREATE TABLE livrets (
    uai            text NOT NULL,
    level          text NOT NULL,
    file_name      text NOT NULL,
    certifications integer NOT NULL,
    produced_at    timestamptz NOT NULL,
    PRIMARY KEY (uai, level)
);

CREATE TABLE class_exports (
    uai         text NOT NULL,
    division    text NOT NULL,
    rows        integer NOT NULL,
    exported_at timestamptz NOT NULL,
    PRIMARY KEY (uai, division)
);
