//! A record that fails for good: it keeps its reason, its dependents are blocked, the rest is
//! migrated; after the source is fixed, `ztoq retry` completes the run.

use crate::support::{Env, KINDS, kind};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_record_fails_blocks_its_dependents_and_retry_completes() {
    let env = Env::new(600, 5).await;
    let run = env.enqueue();
    let pool = env.db.pool().await;
    // The test case with the most executions: they must end blocked.
    let (bad_key, executions): (String, i64) = sqlx::query_as(
        "SELECT test_case_key, count(*) FROM src_test_executions WHERE run_id = $1
         GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1",
    )
    .bind(run)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(executions > 0);
    env.zephyr_state.corrupt_test_steps(&bad_key);

    let workers = env.workers(2, &[]);
    let status = env.wait_settled(run, Duration::from_secs(180));
    assert_eq!(kind(&status, "test_case", "failed"), 1, "{status}");
    assert_eq!(
        kind(&status, "execution", "blocked") as i64,
        executions,
        "{status}"
    );
    for k in ["folder", "cycle_folder", "test_cycle"] {
        assert_eq!(
            kind(&status, k, "migrated"),
            kind(&status, k, "source"),
            "{k}: {status}"
        );
    }
    assert_eq!(
        kind(&status, "test_case", "migrated"),
        kind(&status, "test_case", "source") - 1
    );
    assert_eq!(
        kind(&status, "execution", "migrated") as i64,
        kind(&status, "execution", "source") as i64 - executions
    );

    let (_, failures) = env.ztoq_json(&["failures", "--run", &run.to_string()]);
    let list = failures["failures"].as_array().expect("a failures list");
    let failed: Vec<_> = list.iter().filter(|f| f["state"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{failures}");
    let reason = failed[0]["error"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&bad_key),
        "the reason names the record: {reason}"
    );
    assert!(
        reason.contains("invalid response body"),
        "the reason says what is wrong: {reason}"
    );
    let blocked: Vec<_> = list.iter().filter(|f| f["state"] == "blocked").collect();
    assert_eq!(blocked.len() as i64, executions);
    assert!(
        blocked.iter().all(|b| b["blocked_by"]
            .as_str()
            .is_some_and(|s| s.contains(&bad_key))),
        "{failures}"
    );

    let (ok, _) = env.verify(run);
    assert!(!ok, "verification reports the incomplete run");

    // Fix the source, retry: the run completes.
    env.zephyr_state.clear_corruptions();
    let (_, retried) = env.ztoq_json(&["retry", "--run", &run.to_string()]);
    assert_eq!(retried["failed"], 1, "{retried}");
    assert_eq!(retried["unblocked"].as_i64(), Some(executions), "{retried}");
    let status = env.wait_settled(run, Duration::from_secs(180));
    workers.stop();
    for k in KINDS {
        assert_eq!(
            kind(&status, k, "migrated"),
            kind(&status, k, "source"),
            "{k}: {status}"
        );
    }
    let (ok, report) = env.verify(run);
    assert!(ok, "{report}");
}
