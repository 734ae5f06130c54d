-- A request rate shared by every process that talks to one API (issue 4: "the limit is
-- shared, not multiplied"). Each row is a schedule of send slots spaced 1/per_second apart;
-- a process reserves a few consecutive slots at a time by moving next_slot forward
-- (ztoq_store::ratelimit::reserve), so slots are never handed out twice and the processes
-- together send at most per_second requests/s, however many there are. One row per API
-- endpoint (e.g. 'qtest http://127.0.0.1:9090'); a handful of updates per second in total.
CREATE TABLE rate_limits (
    key        text PRIMARY KEY,
    per_second double precision NOT NULL CHECK (per_second > 0),
    next_slot  timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
