-- Issue 11 item 2: a proposal asked for with an Idempotency-Key is stored once per school and key,
-- so that a client resending the request after a lost answer (a restart, a timeout) gets the same
-- proposal back instead of storing a second one. The fingerprint of the request's body tells a
-- resend (same body) from a key used again for another request (refused).
ALTER TABLE plans
    ADD COLUMN idempotency_key     text,
    ADD COLUMN request_fingerprint text;
CREATE UNIQUE INDEX plans_idempotency_key ON plans (uai, idempotency_key) WHERE idempotency_key IS NOT NULL;
