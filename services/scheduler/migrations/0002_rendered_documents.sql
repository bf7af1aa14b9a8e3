-- Documents rendered once per content: a session's PDFs and bundles, a school day's bundle.
-- key names the document (session:<id>:<kind>, day:<uai>:<date>); inputs_sha256 is the digest of
-- everything it shows, so a change (enrolment, edit, school) misses and renders it again.
CREATE TABLE rendered_documents (
    key           text PRIMARY KEY,
    inputs_sha256 text        NOT NULL,
    content       bytea       NOT NULL,
    rendered_at   timestamptz NOT NULL DEFAULT now()
);
