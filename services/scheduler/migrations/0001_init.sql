-- Scheduler schema: schools and their resources, the learners read model, plans, sessions,
-- candidates and issued documents. Unqualified names: search_path is the service's schema.

CREATE TABLE schools (
    uai         text PRIMARY KEY,
    name        text        NOT NULL,
    level       text        NOT NULL,
    city        text        NOT NULL DEFAULT '',
    site        text        NOT NULL DEFAULT '',
    -- morning/afternoon hours, open half-days per weekday, closures (see api.HoursIn)
    hours       jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE rooms (
    uai          text    NOT NULL REFERENCES schools (uai) ON DELETE CASCADE,
    name         text    NOT NULL,
    workstations integer NOT NULL CHECK (workstations >= 0),
    site         text    NOT NULL DEFAULT '',
    position     integer NOT NULL DEFAULT 0,
    PRIMARY KEY (uai, name)
);

CREATE TABLE staff (
    uai          text    NOT NULL REFERENCES schools (uai) ON DELETE CASCADE,
    name         text    NOT NULL,
    -- null = available whenever the school is open; else a list of {"date", "half_day"}
    availability jsonb,
    position     integer NOT NULL DEFAULT 0,
    PRIMARY KEY (uai, name)
);

-- Read model built from eligibility events (LearnerRegistered/Updated/Deactivated).
CREATE TABLE learners (
    learner_id  text PRIMARY KEY,
    uai         text        NOT NULL,
    ine         text,
    first_name  text        NOT NULL,
    last_name   text        NOT NULL,
    birthdate   date        NOT NULL,
    division    text        NOT NULL,
    active      boolean     NOT NULL DEFAULT true,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX learners_by_class ON learners (uai, division) WHERE active;

-- Read model built from CertifiabilityAssessed; separate so an assessment may precede the learner.
CREATE TABLE learner_certifiability (
    learner_id              text PRIMARY KEY,
    uai                     text        NOT NULL,
    status                  text        NOT NULL,
    certifiable_competences integer,
    assessed_at             timestamptz NOT NULL
);

CREATE SEQUENCE session_number_seq START 1;

CREATE TABLE plans (
    plan_id      uuid PRIMARY KEY,
    uai          text        NOT NULL REFERENCES schools (uai),
    school_year  text        NOT NULL,
    status       text        NOT NULL CHECK (status IN ('proposed', 'impossible', 'confirmed')),
    proposal     jsonb       NOT NULL,
    created_at   timestamptz NOT NULL,
    confirmed_at timestamptz
);
CREATE INDEX plans_by_school ON plans (uai, created_at);

CREATE TABLE sessions (
    session_id                uuid PRIMARY KEY,
    session_number            bigint      NOT NULL UNIQUE DEFAULT nextval('session_number_seq'),
    uai                       text        NOT NULL REFERENCES schools (uai),
    site                      text        NOT NULL,
    room                      text        NOT NULL,
    invigilators              text[]      NOT NULL,
    day                       date        NOT NULL,
    time                      text        NOT NULL,
    observations              text        NOT NULL DEFAULT '',
    access_code               text        NOT NULL,
    -- the scheduler owns the password (as Pix does) to print it on the kit; events carry the hash
    invigilator_password      text        NOT NULL,
    invigilator_password_hash text        NOT NULL,
    status                    text        NOT NULL DEFAULT 'scheduled'
                                          CHECK (status IN ('scheduled', 'cancelled')),
    plan_id                   uuid REFERENCES plans (plan_id),
    first_test_started_at     timestamptz,
    finalised_at              timestamptz,
    created_at                timestamptz NOT NULL,
    updated_at                timestamptz NOT NULL,
    cancelled_at              timestamptz
);
CREATE INDEX sessions_by_school_day ON sessions (uai, day) WHERE status = 'scheduled';
CREATE UNIQUE INDEX sessions_live_access_code ON sessions (access_code) WHERE status = 'scheduled';

CREATE TABLE candidates (
    candidate_id          uuid PRIMARY KEY,
    session_id            uuid        NOT NULL REFERENCES sessions (session_id),
    learner_id            text        NOT NULL,
    ine                   text,
    first_name            text        NOT NULL,
    last_name             text        NOT NULL,
    birthdate             date        NOT NULL,
    division              text        NOT NULL,
    extra_time_percentage integer     NOT NULL DEFAULT 0,
    override_reason       text,
    enrolled_at           timestamptz NOT NULL,
    UNIQUE (session_id, learner_id)
);
CREATE INDEX candidates_by_learner ON candidates (learner_id);

CREATE TABLE documents (
    document_id   uuid PRIMARY KEY,
    session_id    uuid        REFERENCES sessions (session_id),
    uai           text        NOT NULL,
    kind          text        NOT NULL,
    file_name     text        NOT NULL,
    sha256        text        NOT NULL,
    size_bytes    integer     NOT NULL,
    candidate_ids uuid[]      NOT NULL DEFAULT '{}',
    issued_at     timestamptz NOT NULL
);
CREATE INDEX documents_by_session ON documents (session_id, issued_at);
