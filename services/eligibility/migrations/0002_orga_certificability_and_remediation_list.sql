-- Certifiability as Pix Orga computes it (issue 16 item 7) and the remediation list (item 5).

-- An assessment now comes from a campaign export or from Pix Orga's nightly certificability; the
-- more recent wins, as Orga's "Certificabilité" column does (ScoOrganizationParticipant): the
-- campaign's share date against Orga's computation date, Orga winning a tie.
ALTER TABLE assessments DROP CONSTRAINT assessments_import_id_fkey;
ALTER TABLE assessments ADD COLUMN origin text NOT NULL DEFAULT 'campaign_export'
    CHECK (origin IN ('campaign_export', 'orga_certificability'));
ALTER TABLE assessments ADD COLUMN certifiable_at date;

-- Accepted Orga certificability files (a rejected file leaves no trace, like the other imports).
CREATE TABLE certificability_imports (
    import_id      uuid        PRIMARY KEY,
    uai            text        NOT NULL,
    file_name      text        NOT NULL,
    sha256         text        NOT NULL,
    rows           integer     NOT NULL,
    matched        integer     NOT NULL,
    assessed       integer     NOT NULL,
    not_available  integer     NOT NULL,
    unmatched      jsonb       NOT NULL DEFAULT '[]',
    imported_at    timestamptz NOT NULL
);
CREATE INDEX certificability_imports_by_school ON certificability_imports (uai, imported_at);

-- The remediation list: read model of the service's own RemediationRequested and
-- CertifiabilityAssessed events (rebuilt by a replay). One row per student a one-month check asked
-- to place themselves; resolved_at is the first certifiable assessment after the request.
CREATE TABLE remediation_items (
    session_id          text        NOT NULL,
    due_date            date        NOT NULL,
    learner_id          text        NOT NULL,
    uai                 text        NOT NULL,
    division            text        NOT NULL,
    session_date        date        NOT NULL,
    status              text        NOT NULL,
    certifiable_count   integer,
    competences_needed  integer,
    zero_level          text[]      NOT NULL DEFAULT '{}',
    requested_at        timestamptz NOT NULL,
    resolved_at         timestamptz,
    PRIMARY KEY (session_id, due_date, learner_id)
);
CREATE INDEX remediation_items_by_school ON remediation_items (uai, division);
CREATE INDEX remediation_items_by_learner ON remediation_items (learner_id);

-- When each learner was assessed certifiable (from CertifiabilityAssessed): lets a request that
-- arrives after the assessment (another partition) be resolved all the same.
CREATE TABLE remediation_certifiable_at (
    learner_id   text        NOT NULL,
    assessed_at  timestamptz NOT NULL,
    PRIMARY KEY (learner_id, assessed_at)
);
