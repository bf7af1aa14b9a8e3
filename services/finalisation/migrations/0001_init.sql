-- Finalisation service schema.
-- Read models (rebuilt from the scheduler's events): sessions, candidates.
-- Owned state: room_sessions, seats, incidents, finalisations, session_results, results_imports,
-- overdue_notices. No foreign keys from owned state to read models: a replay truncates the latter.

CREATE TABLE sessions (
    session_id               text PRIMARY KEY,
    session_number           integer     NOT NULL,
    uai                      text        NOT NULL,
    certification_center     text        NOT NULL,
    school_level             text        NOT NULL,
    address                  text        NOT NULL,
    room                     text        NOT NULL,
    examiners                jsonb       NOT NULL DEFAULT '[]',
    session_date             date        NOT NULL,
    session_time             text        NOT NULL,
    test_minutes             integer     NOT NULL DEFAULT 105,
    invigilator_password_hash text       NOT NULL,
    cancelled_at             timestamptz,
    cancel_reason            text,
    updated_at               timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_number ON sessions (session_number);
CREATE INDEX sessions_date ON sessions (session_date) WHERE cancelled_at IS NULL;

CREATE TABLE candidates (
    session_id            text    NOT NULL,
    candidate_id          text    NOT NULL,
    learner_id            text    NOT NULL,
    ine                   text,
    first_name            text    NOT NULL,
    last_name             text    NOT NULL,
    birthdate             date    NOT NULL,
    division              text    NOT NULL,
    extra_time_percentage integer NOT NULL DEFAULT 0,
    unenrolled_at         timestamptz,
    PRIMARY KEY (session_id, candidate_id)
);

-- The room on the day (what the invigilator space changed).
CREATE TABLE room_sessions (
    session_id             text PRIMARY KEY,
    first_test_started_at  timestamptz,
    invigilator_access_at  timestamptz
);

CREATE TABLE seats (
    session_id          text        NOT NULL,
    candidate_id        text        NOT NULL,
    presence_confirmed  boolean     NOT NULL DEFAULT false,
    authorised_to_start boolean     NOT NULL DEFAULT false,
    test_state          text        NOT NULL DEFAULT 'not_started',
    started_at          timestamptz,
    ended_at            timestamptz,
    PRIMARY KEY (session_id, candidate_id)
);

CREATE TABLE incidents (
    id              bigserial PRIMARY KEY,
    session_id      text        NOT NULL,
    candidate_id    text,
    category        text        NOT NULL,
    subcategory     text,
    description     text,
    question_number integer,
    recorded_at     timestamptz NOT NULL
);
CREATE INDEX incidents_session ON incidents (session_id);

-- One row per finalised session; payload is the SessionFinalised event as raised.
CREATE TABLE finalisations (
    session_id   text PRIMARY KEY,
    finalised_at timestamptz NOT NULL,
    payload      jsonb       NOT NULL
);

-- The session's current results, one per candidate (latest import wins per candidate).
CREATE TABLE session_results (
    session_id       text   NOT NULL,
    candidate_id     text   NOT NULL,
    certification_id bigint NOT NULL,
    result           jsonb  NOT NULL,
    PRIMARY KEY (session_id, candidate_id)
);

-- Every import that changed a session's results; fingerprint = sha256 of the merged results.
CREATE TABLE results_imports (
    id           bigserial PRIMARY KEY,
    session_id   text        NOT NULL,
    source       text        NOT NULL,
    file_name    text        NOT NULL,
    file_sha256  text        NOT NULL,
    fingerprint  text        NOT NULL,
    matched      integer     NOT NULL,
    unmatched    integer     NOT NULL,
    imported_at  timestamptz NOT NULL
);
CREATE INDEX results_imports_session ON results_imports (session_id, id DESC);

CREATE TABLE overdue_notices (
    session_id  text PRIMARY KEY,
    due_at      timestamptz NOT NULL,
    detected_at timestamptz NOT NULL
);
