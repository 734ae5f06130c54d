-- The tables an enqueue fills in bulk, without their row-by-row foreign-key checks.
--
-- Measured (pg_stat_statements and EXPLAIN ANALYZE, 48k-record enqueue, dev cluster): each
-- edge cost two `SELECT … FROM records … FOR KEY SHARE` checks (175k lookups for 87k edges,
-- ~20 % of the edge insert), and each record and snapshot row one `SELECT … FROM runs … FOR
-- KEY SHARE` (144k lookups; ~4.7 µs per row with the trigger machinery, a third of the
-- records insert's own time). The references they checked are guaranteed by the code:
--
-- * edges are written only by `ztoq_store::records::insert_records`: its children are the
--   records it has just inserted in the same transaction, its parents either those or records
--   it has just read under `FOR SHARE` (which no one can delete before it commits);
-- * `run_id` on records and snapshot rows is always the id of the run the enqueue has just
--   upserted (or, for a worker, the run of the record it holds);
-- * no code deletes records or runs (rollback marks them; runs are kept as history).
--
-- What the foreign keys also did was cascade a deletion. Deleting a run by hand still removes
-- all it owns: the trigger below does what the cascades did, before the run goes (the
-- tables whose foreign keys remain still cascade by themselves). Deleting single records by
-- hand leaves their edges behind (harmless: the release starts from the parent's id and only
-- updates children that exist, and `block_below` likewise).

ALTER TABLE record_deps DROP CONSTRAINT IF EXISTS record_deps_parent_id_fkey;
ALTER TABLE record_deps DROP CONSTRAINT IF EXISTS record_deps_child_id_fkey;
ALTER TABLE records DROP CONSTRAINT IF EXISTS records_run_id_fkey;
ALTER TABLE src_folders DROP CONSTRAINT IF EXISTS src_folders_run_id_fkey;
ALTER TABLE src_test_cases DROP CONSTRAINT IF EXISTS src_test_cases_run_id_fkey;
ALTER TABLE src_test_cycles DROP CONSTRAINT IF EXISTS src_test_cycles_run_id_fkey;
ALTER TABLE src_test_executions DROP CONSTRAINT IF EXISTS src_test_executions_run_id_fkey;

CREATE FUNCTION ztoq_delete_run_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM record_deps d USING records r WHERE r.run_id = OLD.id AND d.child_id = r.id;
    DELETE FROM records WHERE run_id = OLD.id;
    DELETE FROM src_folders WHERE run_id = OLD.id;
    DELETE FROM src_test_cases WHERE run_id = OLD.id;
    DELETE FROM src_test_cycles WHERE run_id = OLD.id;
    DELETE FROM src_test_executions WHERE run_id = OLD.id;
    RETURN OLD;
END;
$$;

CREATE TRIGGER runs_delete_rows BEFORE DELETE ON runs
    FOR EACH ROW EXECUTE FUNCTION ztoq_delete_run_rows();
