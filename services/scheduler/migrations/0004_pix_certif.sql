-- The session as Pix Certif created it (issue 16): its number, access code and invigilator
-- password, recorded by the school (per session or from the Pix Certif sessions file). NULL until
-- then: certibus's own number and codes are the session's. The password is kept in clear like
-- certibus's own (the kit prints it); only its keyed verifier leaves the service (ADR 0007).
ALTER TABLE sessions
    ADD COLUMN pix_session_number       integer CHECK (pix_session_number > 0),
    ADD COLUMN pix_access_code          text,
    ADD COLUMN pix_invigilator_password text,
    ADD COLUMN pix_recorded_at          timestamptz,
    ADD CONSTRAINT sessions_pix_complete CHECK (
        (pix_session_number IS NULL) = (pix_access_code IS NULL)
        AND (pix_session_number IS NULL) = (pix_invigilator_password IS NULL)
    );
-- One live session per Pix session number across the académie.
CREATE UNIQUE INDEX sessions_live_pix_number ON sessions (pix_session_number)
    WHERE status = 'scheduled' AND pix_session_number IS NOT NULL;
