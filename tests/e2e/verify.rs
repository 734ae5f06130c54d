//! `ztoq verify` reads qTest back and notices what is wrong there: a copy deleted behind
//! ztoq's back (test case, attachment) is reported missing, an extra copy (a second test case
//! with the same Zephyr key, a second log with the same execution marker) is reported as a
//! duplicate, each naming its record — and the untouched records still verify; reads that fail
//! transiently are retried.

use crate::support::{Env, kind};
use std::time::Duration;
use ztoq_mock::faults::FaultConfig;

/// `(source_key, qtest_id, qtest_data)` of the first `n` done records of `kind`.
async fn done(env: &Env, run: i64, kind: &str, n: i64) -> Vec<(String, i64, serde_json::Value)> {
    let pool = env.db.pool().await;
    sqlx::query_as(
        "SELECT source_key, qtest_id, coalesce(qtest_data, '{}'::jsonb) FROM records
         WHERE run_id = $1 AND kind = $2 AND state = 'done' AND qtest_id IS NOT NULL
           AND (kind <> 'execution' OR qtest_data ? 'log_id')
         ORDER BY id LIMIT $3",
    )
    .bind(run)
    .bind(kind)
    .bind(n)
    .fetch_all(&pool)
    .await
    .unwrap()
}

/// Whether the report has a mismatch of `kind` on `field` naming `key`.
fn reported(report: &serde_json::Value, kind: &str, field: &str, key: &str) -> bool {
    report["mismatches"].as_array().is_some_and(|list| {
        list.iter()
            .any(|m| m["kind"] == kind && m["field"] == field && m["source_key"] == key)
    })
}

/// A project of `scale` migrated by two workers, settled: the environment and the run.
async fn migrated(scale: u64, seed: u64, timeout: Duration) -> (Env, i64) {
    let env = Env::new(scale, seed).await;
    let run = env.enqueue();
    let workers = env.workers(2, &[]);
    env.wait_settled(run, timeout);
    workers.stop();
    (env, run)
}

/// Every migrated record of each of `kinds` verified (and at least `min` of them).
fn all_verified(report: &serde_json::Value, kinds: &[&str], min: u64) {
    for k in kinds {
        assert!(kind(report, k, "migrated") >= min, "{k}: {report}");
        assert_eq!(
            kind(report, k, "verified"),
            kind(report, k, "migrated"),
            "{k}: {report}"
        );
    }
}

/// Source keys of the records that depend on the test case `key` (its executions and
/// attachments): what goes with it when it is deleted in qTest.
async fn dependents_of_case(pool: &sqlx::PgPool, run: i64, key: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT c.source_key FROM records p JOIN record_deps d ON d.parent_id = p.id
         JOIN records c ON c.id = d.child_id
         WHERE p.run_id = $1 AND p.kind = 'test_case' AND p.source_key = $2",
    )
    .bind(run)
    .bind(key)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Every test case, execution and attachment verified but the records named in `wrong`.
fn others_verified(report: &serde_json::Value, mut wrong: Vec<&str>) {
    wrong.sort_unstable();
    wrong.dedup();
    let kinds = ["test_case", "execution", "attachment"];
    let verified: u64 = kinds.iter().map(|k| kind(report, k, "verified")).sum();
    let migrated: u64 = kinds.iter().map(|k| kind(report, k, "migrated")).sum();
    assert_eq!(verified, migrated - wrong.len() as u64, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_reports_missing_and_duplicate_copies_by_record() {
    let (env, run) = migrated(400, 41, Duration::from_secs(120)).await;
    let (ok, report) = env.verify(run);
    assert!(ok, "clean run should verify: {report}");

    let qt = env.qtest_client().await;
    // A test case deleted, another one copied (same module, same Zephyr key).
    let pool = env.db.pool().await;
    let deleted_case: (String, i64) = sqlx::query_as(
        "SELECT source_key, qtest_id FROM records r
         WHERE run_id = $1 AND kind = 'test_case' AND state = 'done'
         ORDER BY id LIMIT 1",
    )
    .bind(run)
    .fetch_one(&pool)
    .await
    .unwrap();
    // What hangs on it in qTest (its runs and their logs, its attachments) goes with it.
    let gone_with_it: Vec<String> = dependents_of_case(&pool, run, &deleted_case.0).await;
    let cases = done(&env, run, "test_case", 2).await;
    let copied_case = cases
        .iter()
        .find(|c| c.0 != deleted_case.0)
        .expect("a second test case");
    qt.delete_test_case(deleted_case.1).await.unwrap();
    let mut copy = qt.test_case(copied_case.1).await.unwrap();
    copy.id = None;
    qt.create_test_case(&copy).await.unwrap();
    // An execution's log posted a second time on its run.
    let execs = done(&env, run, "execution", 50).await;
    let exec = execs
        .iter()
        .find(|e| !gone_with_it.contains(&e.0))
        .expect("an execution of another test case");
    let run_id = exec.2["run_id"].as_i64().unwrap();
    let log_id = exec.2["log_id"].as_i64().unwrap();
    let logs = qt.all_test_logs(run_id).await.unwrap();
    let mut log = logs
        .into_iter()
        .find(|l| l.id == Some(log_id))
        .expect("the execution's log is in qTest");
    log.id = None;
    qt.create_test_log(run_id, &log).await.unwrap();
    // An attachment removed from its owner.
    let (att_key, att_id, owner_type, owner_id): (String, i64, String, i64) = sqlx::query_as(
        "SELECT a.source_key, a.qtest_id,
                CASE p.kind WHEN 'test_case' THEN 'test-cases' ELSE 'test-logs' END,
                CASE p.kind WHEN 'test_case' THEN p.qtest_id
                            ELSE (p.qtest_data->>'log_id')::bigint END
         FROM records a JOIN record_deps d ON d.child_id = a.id JOIN records p ON p.id = d.parent_id
         WHERE a.run_id = $1 AND a.kind = 'attachment' AND a.state = 'done'
           AND NOT a.source_key = ANY($2)
         ORDER BY a.id LIMIT 1",
    )
    .bind(run)
    .bind(&gone_with_it)
    .fetch_one(&pool)
    .await
    .unwrap();
    qt.delete_attachment(&owner_type, owner_id, att_id)
        .await
        .unwrap();

    let (ok, report) = env.verify(run);
    assert!(!ok, "a tampered copy must not verify: {report}");
    assert!(
        reported(&report, "test_case", "missing", &deleted_case.0),
        "{report}"
    );
    assert!(
        reported(&report, "test_case", "duplicate", &copied_case.0),
        "{report}"
    );
    assert!(
        reported(&report, "execution", "duplicate", &exec.0),
        "{report}"
    );
    assert!(
        reported(&report, "attachment", "missing", &att_key),
        "{report}"
    );
    // Nothing else is reported, but the deleted case's own runs and attachments as missing.
    let mismatches = report["mismatches"].as_array().cloned().unwrap_or_default();
    let expected = [&deleted_case.0, &copied_case.0, &exec.0, &att_key];
    for m in &mismatches {
        let key = m["source_key"].as_str().unwrap_or_default().to_string();
        assert!(
            expected.contains(&&key) || (m["field"] == "missing" && gone_with_it.contains(&key)),
            "unexpected mismatch {m} in {report}"
        );
    }
    // Every other record still verifies (a duplicated one too: its own copy is right).
    let wrong: Vec<&str> = mismatches
        .iter()
        .filter(|m| m["field"] != "duplicate")
        .filter_map(|m| m["source_key"].as_str())
        .collect();
    others_verified(&report, wrong);
}

/// The records of `kind` counted by the last page of the verifier (more than one page of
/// test cases and executions: the read-ahead carries every page through).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_checks_records_past_the_first_page() {
    let (env, run) = migrated(3500, 43, Duration::from_secs(300)).await;
    let (ok, report) = env.verify(run);
    assert!(ok, "clean run should verify: {report}");
    all_verified(&report, &["test_case", "execution"], 1001);

    let qt = env.qtest_client().await;
    let pool = env.db.pool().await;
    // A test case on the last page deleted, with what hangs on it (one without attachments of
    // its own or of its executions: reading an owner that no longer exists is an error).
    let (case_key, case_id): (String, i64) = sqlx::query_as(
        "SELECT p.source_key, p.qtest_id FROM records p
         WHERE p.run_id = $1 AND p.kind = 'test_case' AND p.state = 'done'
           AND NOT EXISTS (
             SELECT 1 FROM record_deps d JOIN records c ON c.id = d.child_id
             LEFT JOIN record_deps d2 ON d2.parent_id = c.id
             LEFT JOIN records a ON a.id = d2.child_id
             WHERE d.parent_id = p.id AND (c.kind = 'attachment' OR a.kind = 'attachment'))
         ORDER BY p.id DESC LIMIT 1",
    )
    .bind(run)
    .fetch_one(&pool)
    .await
    .unwrap();
    let gone_with_it: Vec<String> = dependents_of_case(&pool, run, &case_key).await;
    qt.delete_test_case(case_id).await.unwrap();
    // A late execution's log posted twice.
    let execs: Vec<(String, serde_json::Value)> = sqlx::query_as(
        "SELECT source_key, qtest_data FROM records
         WHERE run_id = $1 AND kind = 'execution' AND state = 'done' AND qtest_data ? 'log_id'
         ORDER BY id DESC LIMIT 50",
    )
    .bind(run)
    .fetch_all(&pool)
    .await
    .unwrap();
    let (exec_key, data) = execs
        .iter()
        .find(|e| !gone_with_it.contains(&e.0))
        .expect("a late execution of another test case");
    let run_id = data["run_id"].as_i64().unwrap();
    let log_id = data["log_id"].as_i64().unwrap();
    let mut log = qt
        .all_test_logs(run_id)
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.id == Some(log_id))
        .expect("the execution's log is in qTest");
    log.id = None;
    qt.create_test_log(run_id, &log).await.unwrap();

    let (ok, report) = env.verify(run);
    assert!(!ok, "a tampered copy must not verify: {report}");
    assert!(
        reported(&report, "test_case", "missing", &case_key),
        "{report}"
    );
    assert!(
        reported(&report, "execution", "duplicate", exec_key),
        "{report}"
    );
    let mismatches = report["mismatches"].as_array().cloned().unwrap_or_default();
    let mut wrong: Vec<&str> = Vec::new();
    for m in &mismatches {
        let key = m["source_key"].as_str().unwrap_or_default();
        let expected = (key == case_key && m["field"] == "missing")
            || (key == exec_key && m["field"] == "duplicate")
            || (m["field"] == "missing" && gone_with_it.iter().any(|g| g == key));
        assert!(expected, "unexpected mismatch {m} in {report}");
        if m["field"] != "duplicate" {
            wrong.push(key);
        }
    }
    others_verified(&report, wrong);
}

/// qTest failing while the verifier reads it (errors, resets, cut-off answers): each read is
/// retried with backoff, and the report is the same as without faults.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_retries_reads_that_fail_transiently() {
    let (env, run) = migrated(300, 47, Duration::from_secs(120)).await;
    env.qtest.faults.set(FaultConfig {
        fault_rate: 0.3,
        reset_rate: 0.05,
        truncate_rate: 0.05,
        ..FaultConfig::default()
    });
    let before = env.qtest.faults.stats();
    let (ok, report) = env.verify(run);
    let after = env.qtest.faults.stats();
    env.qtest.faults.set(FaultConfig::default());
    assert!(
        ok,
        "a clean run verifies through transient faults: {report}"
    );
    assert!(
        after.injected_errors > before.injected_errors,
        "faults were injected: {after:?}"
    );
    let kinds = [
        "folder",
        "test_case",
        "test_cycle",
        "execution",
        "attachment",
    ];
    all_verified(&report, &kinds, 1);
}
