-- The session's number in Pix Certif once the school recorded it (SessionCreated/SessionUpdated v2
-- pix_session_number, issue 16): the number the kit prints, the invigilator types at login and
-- Pix's results files carry in their "Session" column. NULL until then (certibus's number only).
ALTER TABLE sessions ADD COLUMN pix_session_number integer;
CREATE INDEX sessions_pix_number ON sessions (pix_session_number) WHERE pix_session_number IS NOT NULL;
