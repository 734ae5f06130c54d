-- apalis-postgres 1.0's get_jobs() plans its LIMIT as an unknown parameter and joins the
-- claimed ids back with a hash join over a sequential scan of apalis.jobs: ~400 ms per fetch
-- once the table holds 500k rows (measured: 1.3k jobs/s). Claiming through
-- `id = ANY(ARRAY(SELECT ... LIMIT n FOR UPDATE SKIP LOCKED))` keeps an index plan
-- (~7 ms, 9.9k jobs/s). Same signature, same result rows; only order within a batch differs.
-- Applied after apalis's own migrations (ztoq_store::migrate runs them first).

CREATE OR REPLACE FUNCTION apalis.get_jobs(
    worker_id TEXT,
    v_job_type TEXT,
    v_job_count INTEGER DEFAULT 5
)
RETURNS SETOF apalis.jobs
LANGUAGE sql
VOLATILE
AS $$
    UPDATE apalis.jobs j
    SET
        status = 'Queued',
        lock_by = worker_id,
        lock_at = now()
    WHERE j.id = ANY(ARRAY(
        SELECT id
        FROM apalis.jobs
        WHERE
            (
                status = 'Pending'
                OR (
                    status = 'Failed'
                    AND attempts < max_attempts
                )
            )
            AND run_at < now()
            AND job_type = v_job_type
        ORDER BY priority DESC, run_at ASC
        LIMIT v_job_count
        FOR UPDATE SKIP LOCKED
    ))
    RETURNING j.*;
$$;

-- ztoq's workers poll (a short interval) instead of listening, and ztoq pushes jobs in bulk
-- from SQL: a per-row NOTIFY would fire once per job of a 500k-record enqueue for nobody.
DROP TRIGGER IF EXISTS notify_workers ON apalis.jobs;
