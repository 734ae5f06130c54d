-- records_run_state_kind (run_id, state, kind) could also serve "run_id = ? AND kind = ?"
-- by scanning a run's whole index range, and while a growing records table still had the
-- statistics of a small one, the planner chose it for enqueue's parent lookups
-- (run_id, kind, source_id) instead of the unique index: each lookup then read every record of
-- the parent's kind, ~0.3 ms each at 30k records and growing with the run (measured with
-- auto_explain: two statements of 0.6 s per page of 1,000 executions). With state leading,
-- this index is useless for those lookups and the unique index is the only candidate; state
-- queries ("the failed / ready records of a run") still use it.
DROP INDEX IF EXISTS records_run_state_kind;
CREATE INDEX records_state_run_kind ON records (state, run_id, kind);
