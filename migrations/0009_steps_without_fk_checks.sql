-- The step and attachment tables a worker writes into, without their row-by-row foreign-key
-- checks.
--
-- Measured (pg_stat_statements, `ztoq bench --records 20000 --workers 2`): every test step and
-- execution step a worker stores cost a `SELECT … FROM runs … FOR KEY SHARE` check (140k
-- checks for 20k records, ~1 s of the run's 28 s of Postgres time). As in migration 0007, the
-- reference is guaranteed by the code: these rows are written only by a worker, for the run of
-- a record it holds (`ztoq_store::snapshot::save_test_steps_many`,
-- `save_execution_steps_many`, `save_attachments`), and no code deletes runs.
--
-- The cascade the foreign keys did when a run is deleted by hand moves into the trigger of
-- migration 0007.

ALTER TABLE src_test_steps DROP CONSTRAINT IF EXISTS src_test_steps_run_id_fkey;
ALTER TABLE src_execution_steps DROP CONSTRAINT IF EXISTS src_execution_steps_run_id_fkey;
ALTER TABLE src_attachments DROP CONSTRAINT IF EXISTS src_attachments_run_id_fkey;

CREATE OR REPLACE FUNCTION ztoq_delete_run_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM record_deps d USING records r WHERE r.run_id = OLD.id AND d.child_id = r.id;
    DELETE FROM records WHERE run_id = OLD.id;
    DELETE FROM src_folders WHERE run_id = OLD.id;
    DELETE FROM src_test_cases WHERE run_id = OLD.id;
    DELETE FROM src_test_steps WHERE run_id = OLD.id;
    DELETE FROM src_test_cycles WHERE run_id = OLD.id;
    DELETE FROM src_test_executions WHERE run_id = OLD.id;
    DELETE FROM src_execution_steps WHERE run_id = OLD.id;
    DELETE FROM src_attachments WHERE run_id = OLD.id;
    RETURN OLD;
END;
$$;
