-- Rollback: `ztoq rollback --run ID` deletes from qTest what a run created, children before
-- parents, and records each removal on its record as it happens, so that an interrupted
-- rollback resumes where it stopped and a repeated one has nothing left to do.
--
-- A run is "rolling back" from rollback_started_at on (its unfinished records are cancelled,
-- `ztoq retry` refuses it) and "rolled back" once rolled_back_at is set (every item it created
-- is gone). A rolled-back run is history: enqueueing the same project into the same qTest
-- project again starts a new run, hence the uniqueness below only among runs not rolled back.

ALTER TABLE runs
    ADD COLUMN rollback_started_at timestamptz,
    ADD COLUMN rolled_back_at      timestamptz;

ALTER TABLE runs
    DROP CONSTRAINT runs_zephyr_url_project_key_qtest_url_qtest_project_id_key;

CREATE UNIQUE INDEX runs_source_target_live
    ON runs (zephyr_url, project_key, qtest_url, qtest_project_id)
    WHERE rolled_back_at IS NULL;

ALTER TABLE records
    -- When the record's qTest item was deleted (or found already gone) by a rollback.
    ADD COLUMN rolled_back_at timestamptz,
    -- Why the last rollback could not delete it (cleared once it is gone).
    ADD COLUMN rollback_error text;

-- What a rollback pages through, per kind: records whose qTest item still exists.
CREATE INDEX records_rollback_pending ON records (run_id, kind, id)
    WHERE state = 'done' AND rolled_back_at IS NULL;

-- The executions of one (cycle, test case) pair share one test run (qtest_data.run_id):
-- deleting it removes all their test logs at once, so they are rolled back together.
CREATE INDEX records_execution_test_run ON records (run_id, (qtest_data ->> 'run_id'))
    WHERE kind = 'execution' AND state = 'done';
