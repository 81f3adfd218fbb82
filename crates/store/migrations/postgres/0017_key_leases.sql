-- coursebridge schema v17: leases on keys (`Store::hold_key`), held across
-- work that is not a transaction — a call to SCORM Cloud — without holding a
-- database connection or lock meanwhile, and seen by every process on the
-- database (the ingest server, `coursebridge-sync`, other instances). A
-- lease whose holder died expires at `until_ms`.
CREATE TABLE key_leases (
    lease_key   BIGINT PRIMARY KEY,
    holder      TEXT NOT NULL,
    until_ms    BIGINT NOT NULL
);
