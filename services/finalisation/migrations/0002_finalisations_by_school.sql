-- A school's results file (POST /results?uai=) looks up that school's finalised sessions: by index,
-- not by reading every finalisation of the académie (≈ 8,000 payloads) for each school.
CREATE INDEX finalisations_uai ON finalisations ((payload->>'uai'));
