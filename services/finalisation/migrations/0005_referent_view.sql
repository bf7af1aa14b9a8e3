-- The referent's view (issue 16, items 4 and 5): who finalised, the finalisation's amendments, and
-- the results rows matching left without a candidate.

-- Who submitted the form (the token's subject; NULL when the API runs open), and its amendments:
-- payload is always the finalisation as it stands (the first one, or the latest amendment).
ALTER TABLE finalisations ADD COLUMN finalised_by text;
ALTER TABLE finalisations ADD COLUMN amendments integer NOT NULL DEFAULT 0;
ALTER TABLE finalisations ADD COLUMN amended_at timestamptz;
ALTER TABLE finalisations ADD COLUMN amended_by text;

-- Each amendment keeps the finalisation it replaced.
CREATE TABLE finalisation_amendments (
    session_id  text        NOT NULL,
    amendment   integer     NOT NULL,
    amended_at  timestamptz NOT NULL,
    amended_by  text,
    replaced    jsonb       NOT NULL,
    PRIMARY KEY (session_id, amendment)
);

-- A results row without a candidate, keyed by Pix's certification id (the same row in a later
-- file is the same row). uai / session_id: where it was placed (NULL: not known); assigned_*: the
-- referent's assignment by hand. An automatic match in a later import removes an unassigned row.
CREATE TABLE unmatched_results (
    certification_id      bigint PRIMARY KEY,
    kind                  text        NOT NULL,
    reason                text,
    uai                   text,
    session_id            text,
    candidate_ids         jsonb       NOT NULL DEFAULT '[]',
    result                jsonb       NOT NULL,
    file_name             text        NOT NULL,
    recorded_at           timestamptz NOT NULL,
    assigned_session_id   text,
    assigned_candidate_id text,
    assigned_at           timestamptz,
    assigned_by           text
);
CREATE INDEX unmatched_results_uai ON unmatched_results (uai);
CREATE INDEX unmatched_results_session ON unmatched_results (session_id);
