-- Invigilator login attempts, counted per bucket ("session:<number>", "client:<address>") in
-- one-minute windows. In PostgreSQL, not in a replica's memory: every replica behind the load
-- balancer charges the same counter, so running more replicas does not buy an attacker more guesses.
CREATE TABLE login_attempts (
    bucket       text        PRIMARY KEY,
    window_start timestamptz NOT NULL,
    attempts     integer     NOT NULL CHECK (attempts >= 0)
);
CREATE INDEX login_attempts_window ON login_attempts (window_start);
