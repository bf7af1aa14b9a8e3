-- The export service's own read model, built only from other services' events, and the log of
-- the files it produced. Every table here is cleared and rebuilt by a replay.

-- Roster (eligibility: LearnerRegistered / LearnerUpdated / LearnerDeactivated).
CREATE TABLE learners (
    learner_id   text PRIMARY KEY,
    uai          text    NOT NULL,
    ine          text,
    first_name   text    NOT NULL,
    middle_name  text,
    third_name   text,
    last_name    text    NOT NULL,
    birthdate    date    NOT NULL,
    division     text    NOT NULL,
    active       boolean NOT NULL DEFAULT true,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX learners_by_school ON learners (uai);

-- Sessions (scheduler): the school's level decides LSU (collège) or LSL (lycée).
CREATE TABLE sessions (
    session_id           text PRIMARY KEY,
    session_number       integer NOT NULL,
    uai                  text    NOT NULL,
    certification_center text    NOT NULL,
    school_level         text    NOT NULL CHECK (school_level IN ('college', 'lycee')),
    session_date         date    NOT NULL,
    cancelled            boolean NOT NULL DEFAULT false,
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_by_school ON sessions (uai);

-- Enrolments (scheduler: CandidatesEnrolled / CandidateUnenrolled); also filled from results, so
-- a result can be attached to its learner whatever the order in which topics are read.
CREATE TABLE candidates (
    candidate_id  text PRIMARY KEY,
    learner_id    text NOT NULL,
    session_id    text NOT NULL,
    uai           text NOT NULL,
    unenrolled_at timestamptz
);
CREATE INDEX candidates_by_learner ON candidates (learner_id);
CREATE INDEX candidates_by_session ON candidates (session_id);

-- Certification results (finalisation: ResultsProcessed). A result is published when it arrives:
-- Pix publishes a session before a school can export it.
CREATE TABLE results (
    certification_id     bigint PRIMARY KEY,
    session_id           text     NOT NULL,
    session_number       integer  NOT NULL,
    candidate_id         text     NOT NULL,
    learner_id           text     NOT NULL,
    uai                  text     NOT NULL,
    certification_center text     NOT NULL,
    status               text     NOT NULL,
    pix_score            integer,
    -- one level per competence in COMPETENCE_IDS order ("1.1" … "5.2"); NULL = not tested
    competence_levels    smallint[] NOT NULL,
    verification_code    text,
    first_name           text     NOT NULL,
    last_name            text     NOT NULL,
    birthdate            date     NOT NULL,
    birthplace           text,
    external_id          text,
    jury_comment         text,
    taken_at             timestamptz NOT NULL,
    published_at         timestamptz NOT NULL,
    processed_at         timestamptz NOT NULL
);
CREATE INDEX results_by_learner ON results (learner_id);
CREATE INDEX results_by_session ON results (session_id);

-- The last file produced per school and kind (and class): its name and digest decide whether a
-- rebuild changed anything (an unchanged digest writes nothing and announces nothing).
CREATE TABLE exports (
    uai          text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('livret', 'class_results', 'attestations')),
    division_key text NOT NULL,            -- '' for the livret; casefolded division otherwise
    division     text NOT NULL,
    file_name    text NOT NULL,
    sha256       text NOT NULL,
    items        integer NOT NULL,
    produced_at  timestamptz NOT NULL,
    PRIMARY KEY (uai, kind, division_key)
);

-- Schools whose roster or sessions changed: a periodic job rebuilds their files (debounced).
CREATE TABLE stale_schools (
    uai        text PRIMARY KEY,
    generation bigint NOT NULL DEFAULT 1,
    marked_at  timestamptz NOT NULL DEFAULT now()
);
