-- Eligibility: learners per school (from SIECLE / Pix Orga rosters), their certifiability (from
-- profile-collection campaign exports), the sessions read model (from scheduler events) and the
-- one-month checks already raised.

CREATE TABLE learners (
    learner_id            uuid        PRIMARY KEY,
    uai                   text        NOT NULL,
    ine                   text        NOT NULL,
    first_name            text        NOT NULL,
    second_name           text        NOT NULL DEFAULT '',
    third_name            text        NOT NULL DEFAULT '',
    last_name             text        NOT NULL,
    usage_name            text        NOT NULL DEFAULT '',
    birth_date            date        NOT NULL,
    sex                   text        NOT NULL CHECK (sex IN ('M', 'F')),
    birth_city_code       text        NOT NULL DEFAULT '',
    birth_city            text        NOT NULL DEFAULT '',
    birth_department_code text        NOT NULL,
    birth_country_code    text        NOT NULL,
    mef_code              text        NOT NULL,
    status                text        NOT NULL,
    division              text        NOT NULL,
    active                boolean     NOT NULL DEFAULT true,
    registered_at         timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    deactivated_at        timestamptz,
    last_import_id        uuid        NOT NULL,
    UNIQUE (uai, ine)
);
CREATE INDEX learners_by_class ON learners (uai, division) WHERE active;

-- Accepted roster files (a rejected file leaves no trace in the database: it is answered with its errors).
CREATE TABLE roster_imports (
    import_id    uuid        PRIMARY KEY,
    uai          text        NOT NULL,
    file_name    text        NOT NULL,
    file_format  text        NOT NULL CHECK (file_format IN ('pix_orga_csv', 'siecle_xml')),
    encoding     text,
    sha256       text        NOT NULL,
    total        integer     NOT NULL,
    registered   integer     NOT NULL,
    updated      integer     NOT NULL,
    deactivated  integer     NOT NULL,
    reactivated  integer     NOT NULL,
    unchanged    integer     NOT NULL,
    skipped      jsonb       NOT NULL DEFAULT '[]',
    imported_at  timestamptz NOT NULL
);
CREATE INDEX roster_imports_by_school ON roster_imports (uai, imported_at);

CREATE TABLE campaign_imports (
    import_id     uuid        PRIMARY KEY,
    uai           text        NOT NULL,
    file_name     text        NOT NULL,
    sha256        text        NOT NULL,
    rows          integer     NOT NULL,
    matched       integer     NOT NULL,
    assessed      integer     NOT NULL,
    superseded    integer     NOT NULL,
    unmatched     jsonb       NOT NULL DEFAULT '[]',
    ambiguous     jsonb       NOT NULL DEFAULT '[]',
    imported_at   timestamptz NOT NULL
);
CREATE INDEX campaign_imports_by_school ON campaign_imports (uai, imported_at);

-- The current certifiability of each learner (absent = unknown).
CREATE TABLE assessments (
    learner_id        uuid        PRIMARY KEY REFERENCES learners (learner_id),
    uai               text        NOT NULL,
    status            text        NOT NULL CHECK (status IN ('certifiable', 'not_certifiable', 'unknown')),
    certifiable_count integer,
    levels            jsonb,
    pix_total         integer,
    shared_at         date,
    source            text        NOT NULL,
    source_line       integer,
    import_id         uuid        NOT NULL REFERENCES campaign_imports (import_id),
    assessed_at       timestamptz NOT NULL
);

-- Where a campaign export's own "Certifiable (O/N)" or count contradicts its levels.
CREATE TABLE assessment_disagreements (
    import_id      uuid    NOT NULL REFERENCES campaign_imports (import_id),
    learner_id     uuid    NOT NULL REFERENCES learners (learner_id),
    rule           text    NOT NULL,
    file_value     text,
    computed_value text,
    line           integer,
    PRIMARY KEY (import_id, learner_id, rule)
);

-- Read model of the scheduler's sessions (rebuilt by a replay).
CREATE TABLE sessions (
    session_id   text        PRIMARY KEY,
    uai          text        NOT NULL,
    session_date date        NOT NULL,
    session_time text        NOT NULL,
    cancelled    boolean     NOT NULL DEFAULT false,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX sessions_open_by_date ON sessions (session_date) WHERE NOT cancelled;

CREATE TABLE session_candidates (
    session_id   text NOT NULL,
    candidate_id text NOT NULL,
    learner_id   text NOT NULL,
    division     text NOT NULL,
    PRIMARY KEY (session_id, candidate_id)
);

-- One-month checks already raised: the key makes a check happen once per session and due date,
-- whatever restarts or replays happen (this table is not a read model: a replay keeps it).
CREATE TABLE remediation_checks (
    session_id   text        NOT NULL,
    due_date     date        NOT NULL,
    session_date date        NOT NULL,
    uai          text        NOT NULL,
    candidates   integer     NOT NULL,
    requested    integer     NOT NULL,
    checked_at   timestamptz NOT NULL,
    PRIMARY KEY (session_id, due_date)
);
