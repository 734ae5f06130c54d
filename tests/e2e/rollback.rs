//! `ztoq rollback`: a migrated project removed from qTest again, children first; a rollback
//! killed partway and run again (through injected faults) completes; a repeated rollback is a
//! no-op; a run with records in flight is refused unless `--force`, which cancels them so that
//! no worker writes them afterwards.

use crate::support::{Env, KINDS, kind};
use serde_json::Value;
use std::process::Stdio;
use std::time::{Duration, Instant};
use ztoq_mock::faults::FaultConfig;

/// Enqueues and migrates the generated project with two workers; returns the run and its
/// status.
async fn migrated(env: &Env) -> (i64, Value) {
    let run = env.enqueue();
    let workers = env.workers(2, &[]);
    let status = env.wait_settled(run, Duration::from_secs(180));
    workers.stop();
    for k in KINDS {
        assert_eq!(kind(&status, k, "failed"), 0, "{k}: {status}");
    }
    (run, status)
}

/// `ztoq rollback --run RUN <extra>` as a command (not started).
fn rollback_command(env: &Env, run: i64, extra: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_ztoq"));
    c.args(["rollback", "--run", &run.to_string()])
        .args(extra)
        .env("ZTOQ_DATABASE_URL", &env.db.url)
        .env("ZTOQ_QTEST_TOKEN", &env.qtest_state.config().token)
        .env("ZTOQ_LOG", "warn")
        .stdin(Stdio::null());
    c
}

/// Records of the run that are done, and those of them rolled back.
async fn marks(env: &Env, run: i64) -> (i64, i64) {
    let pool = env.db.pool().await;
    sqlx::query_as(
        "SELECT count(*) FILTER (WHERE state = 'done'),
                count(*) FILTER (WHERE state = 'done' AND rolled_back_at IS NOT NULL)
         FROM records WHERE run_id = $1",
    )
    .bind(run)
    .fetch_one(&pool)
    .await
    .unwrap()
}

/// `(rollback_started_at IS NOT NULL, rolled_back_at IS NOT NULL)` of the run.
async fn run_marks(env: &Env, run: i64) -> (bool, bool) {
    let pool = env.db.pool().await;
    sqlx::query_as(
        "SELECT rollback_started_at IS NOT NULL, rolled_back_at IS NOT NULL FROM runs WHERE id = $1",
    )
    .bind(run)
    .fetch_one(&pool)
    .await
    .unwrap()
}

/// Asserts the qTest mock holds nothing the run created: no test case, step, cycle, run, log,
/// step log or attachment, and no module but qTest's own empty "Created via API" (made by
/// qTest for a case created without a module; never recorded by ztoq).
async fn assert_qtest_empty(env: &Env) {
    let held = env.qtest_state.summary();
    assert_eq!(
        (
            held.test_cases,
            held.test_steps,
            held.test_cycles,
            held.test_runs,
            held.test_logs,
            held.test_step_logs,
            held.attachments
        ),
        (0, 0, 0, 0, 0, 0, 0),
        "qTest still holds {held:?}"
    );
    let qt = env.qtest_client().await;
    let modules = qt.modules(None, true).await.unwrap();
    assert_eq!(modules.len() as u64, held.modules);
    assert!(
        modules
            .iter()
            .all(|m| m.name.as_deref() == Some("Created via API")
                && m.children.as_ref().is_none_or(|c| c.is_empty())),
        "modules left: {modules:?}"
    );
}

/// Sums a field of the report's kinds.
fn total(report: &Value, field: &str) -> u64 {
    report["kinds"]
        .as_object()
        .unwrap()
        .values()
        .map(|k| k[field].as_u64().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_removes_what_the_run_created_and_a_repeat_is_a_no_op() {
    let env = Env::new(400, 5).await;
    let (run, status) = migrated(&env).await;
    let before = env.qtest_state.summary();
    assert!(before.test_cases > 0 && before.test_runs > 0 && before.attachments > 0);

    let started = Instant::now();
    let (ok, report) = env.ztoq_json(&["rollback", "--run", &run.to_string()]);
    eprintln!(
        "rollback of {} records: {:?}",
        total(&report, "deleted"),
        started.elapsed()
    );
    assert!(ok, "rollback failed: {report}");
    assert_eq!(report["rolled_back"], Value::Bool(true), "{report}");
    assert_eq!(report["failure_count"], 0, "{report}");
    for k in KINDS {
        let migrated = kind(&status, k, "migrated");
        assert_eq!(kind(&report, k, "deleted"), migrated, "{k}: {report}");
        assert_eq!(kind(&report, k, "already_gone"), 0, "{k}: {report}");
        assert_eq!(kind(&report, k, "rolled_back"), migrated, "{k}: {report}");
        assert_eq!(kind(&report, k, "remaining"), 0, "{k}: {report}");
    }
    assert_qtest_empty(&env).await;
    let (done, rolled_back) = marks(&env, run).await;
    assert_eq!(rolled_back, done, "every done record is marked rolled back");
    assert_eq!(run_marks(&env, run).await, (true, true));
    let (_, status) = env.ztoq_json(&["status", "--run", &run.to_string()]);
    assert!(status["rollback"]["finished_at"].is_string(), "{status}");

    // Again: nothing to do, success.
    let (ok, again) = env.ztoq_json(&["rollback", "--run", &run.to_string()]);
    assert!(ok, "{again}");
    assert_eq!(again["rolled_back"], Value::Bool(true));
    assert_eq!(
        total(&again, "deleted") + total(&again, "already_gone"),
        0,
        "{again}"
    );

    // For people: a table and the verdict, exit 0.
    let out = rollback_command(&env, run, &[]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("execution") && stdout.contains(&format!("run {run}: rolled back")),
        "{stdout}"
    );
    eprintln!("{stdout}");

    // The run is history: retry refuses it, enqueueing the project starts a new run.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ztoq"))
        .args(["retry", "--run", &run.to_string()])
        .env("ZTOQ_DATABASE_URL", &env.db.url)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "retry of a rolled-back run must fail"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rolled back"), "{stderr}");
    assert_ne!(env.enqueue(), run, "a new run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_rollback_resumes_and_completes() {
    let env = Env::new(300, 8).await;
    let (run, _) = migrated(&env).await;
    let (done, _) = marks(&env, run).await;

    // Slow qTest down, start the rollback, SIGKILL it partway (in the containers: test
    // cycles or test cases, with all modules still there).
    env.qtest.faults.set(FaultConfig {
        latency_ms: 40,
        ..FaultConfig::default()
    });
    let mut child = rollback_command(&env, run, &["--concurrency", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let partway = loop {
        let (_, rolled_back) = marks(&env, run).await;
        if rolled_back >= done * 3 / 4 {
            break rolled_back;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the rollback ended before it could be interrupted ({rolled_back} of {done})"
        );
        assert!(Instant::now() < deadline, "no progress: {rolled_back}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let (_, after_kill) = marks(&env, run).await;
    assert!(
        after_kill >= partway && after_kill < done,
        "killed partway: {after_kill} of {done}"
    );
    eprintln!("rollback killed after {after_kill} of {done} records");
    assert_eq!(
        run_marks(&env, run).await,
        (true, false),
        "started, unfinished"
    );
    let held = env.qtest_state.summary();
    assert!(held.modules > 0, "the module tree is still there: {held:?}");

    // Again, through transient faults: resumes, completes, exit 0.
    env.qtest.faults.set(FaultConfig {
        fault_rate: 0.1,
        ..FaultConfig::default()
    });
    let (ok, report) = env.ztoq_json(&["rollback", "--run", &run.to_string()]);
    env.qtest.faults.set(FaultConfig::default());
    eprintln!("second rollback: {report}");
    assert!(ok, "the second rollback failed: {report}");
    assert_eq!(report["resumed"], Value::Bool(true));
    assert_eq!(report["rolled_back"], Value::Bool(true));
    assert_eq!(
        total(&report, "rolled_back") as i64,
        done,
        "every record rolled back by one of the two: {report}"
    );
    assert_eq!(
        (total(&report, "deleted") + total(&report, "already_gone")) as i64,
        done - after_kill,
        "the second one did exactly what was left: {report}"
    );
    assert!(
        env.qtest.faults.stats().injected_errors > 0,
        "faults were injected"
    );
    assert_qtest_empty(&env).await;
    assert_eq!(marks(&env, run).await, (done, done));
    assert_eq!(run_marks(&env, run).await, (true, true));

    let (ok, again) = env.ztoq_json(&["rollback", "--run", &run.to_string()]);
    assert!(ok, "{again}");
    assert_eq!(total(&again, "deleted") + total(&again, "already_gone"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_in_flight_is_refused_unless_forced_and_then_never_resumed() {
    let env = Env::new(200, 9).await;
    let run = env.enqueue();
    let out = rollback_command(&env, run, &[]).output().unwrap();
    assert!(!out.status.success(), "refused while records are queued");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(
        run_marks(&env, run).await,
        (false, false),
        "nothing changed"
    );

    let (ok, report) = env.ztoq_json(&["rollback", "--run", &run.to_string(), "--force"]);
    assert!(ok, "{report}");
    assert!(report["cancelled"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(report["rolled_back"], Value::Bool(true));

    // A worker started now finds nothing of the run to do.
    let workers = env.workers(1, &[]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    workers.stop();
    let held = env.qtest_state.summary();
    assert_eq!(
        (held.modules, held.test_cases, held.test_cycles),
        (0, 0, 0),
        "nothing written after the rollback: {held:?}"
    );
    let (_, status) = env.ztoq_json(&["status", "--run", &run.to_string()]);
    assert_eq!(status["finished"], Value::Bool(true), "{status}");
    let (_, failures) = env.ztoq_json(&["failures", "--run", &run.to_string()]);
    assert!(
        failures["failures"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["error"]
                .as_str()
                .unwrap_or_default()
                .starts_with("cancelled")),
        "{failures}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_holding_foreign_items_is_kept_and_reported_unless_cascade() {
    let env = Env::new(200, 10).await;
    let (run, _) = migrated(&env).await;
    // A person adds a test case to a migrated module (the deepest one).
    let pool = env.db.pool().await;
    let module: i64 = sqlx::query_scalar(
        "SELECT qtest_id FROM records WHERE run_id = $1 AND kind = 'folder' ORDER BY id DESC LIMIT 1",
    )
    .bind(run)
    .fetch_one(&pool)
    .await
    .unwrap();
    let qt = env.qtest_client().await;
    qt.create_test_case(&ztoq_qtest::qtest::TestCase {
        name: Some("Added by hand".into()),
        parent_id: Some(module),
        ..Default::default()
    })
    .await
    .unwrap();

    let (ok, report) = env.ztoq_json(&["rollback", "--run", &run.to_string()]);
    assert!(!ok, "a failed delete makes the rollback fail: {report}");
    assert_eq!(report["rolled_back"], Value::Bool(false));
    assert_eq!(kind(&report, "folder", "failed"), 1, "{report}");
    let failure = &report["failures"][0];
    assert_eq!(failure["kind"], "folder");
    assert!(
        failure["error"].as_str().unwrap().contains("HTTP 400"),
        "{failure}"
    );
    for k in [
        "attachment",
        "execution",
        "test_cycle",
        "cycle_folder",
        "test_case",
    ] {
        assert_eq!(kind(&report, k, "remaining"), 0, "{k}: {report}");
    }
    let held = env.qtest_state.summary();
    assert_eq!(held.test_cases, 1, "only the case added by hand: {held:?}");
    assert!(held.modules >= 1);
    assert_eq!(run_marks(&env, run).await, (true, false));

    // With --cascade the module goes, with what it holds.
    let out = rollback_command(&env, run, &["--cascade"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_qtest_empty(&env).await;
    assert_eq!(run_marks(&env, run).await, (true, true));
}
