//! `ztoq bench` end to end, small: 2,000 records, one worker, references of 2,000 jobs. Uses
//! the server of `ZTOQ_TEST_DATABASE_URL` / `DATABASE_URL` (the benchmark creates and drops
//! databases of its own there), else lets the benchmark start a throwaway cluster.

use serde_json::Value;

fn num(v: &Value, path: &str) -> f64 {
    let mut cur = v;
    for key in path.split('.') {
        cur = match key.parse::<usize>() {
            Ok(i) => &cur[i],
            Err(_) => &cur[key],
        };
    }
    cur.as_f64()
        .unwrap_or_else(|| panic!("{path} is not a number: {cur}"))
}

fn positive(v: &Value, path: &str) {
    let n = num(v, path);
    assert!(n > 0.0 && n.is_finite(), "{path} = {n}");
}

#[test]
fn bench_reports_every_figure() {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ztoq"));
    cmd.args([
        "bench",
        "--records",
        "2000",
        "--workers",
        "1",
        "--json",
        "--reference-jobs",
        "2000",
    ])
    .env("ZTOQ_LOG", "warn")
    .env_remove("ZTOQ_DATABASE_URL")
    .stdin(std::process::Stdio::null());
    if let Ok(url) =
        std::env::var("ZTOQ_TEST_DATABASE_URL").or_else(|_| std::env::var("DATABASE_URL"))
    {
        cmd.args(["--database-url", &url]);
    }
    let out = cmd.output().expect("run ztoq bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ztoq bench failed: {stderr}");
    // --json: stdout is exactly one JSON object.
    let report: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {stdout}\n{stderr}"));
    assert_eq!(report["ok"], Value::Bool(true), "{report}");
    assert_eq!(report["settings"]["records"], serde_json::json!([2000]));
    positive(&report, "bench.cpus");
    positive(&report, "bench.total_secs");

    let runs = report["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1);
    let r = &runs[0];
    assert_eq!(r["workers"], 1);
    for p in [
        "enqueue.wall_secs",
        "enqueue.records",
        "enqueue.records_per_sec",
        "enqueue.peak_rss_mb",
        "run.wall_secs",
        "run.records",
        "run.done",
        "run.records_per_sec",
        "run.end_to_end_secs",
        "run.end_to_end_records_per_sec",
        "run.verify_secs",
        "run.latency_ms.p50",
        "run.latency_ms.p99",
        "run.ready_to_done_ms.p50",
        "run.ready_to_done_ms.p99",
        "run.max_worker_peak_rss_mb",
        "run.workers.0.rss.peak_mb",
        "run.workers.0.rss.end_mb",
        "run.postgres.database_size_mb",
        "run.postgres.apalis_jobs_rows",
        "run.mocks.qtest.requests",
        "run.mocks.qtest.ok_per_sec",
        "run.mocks.zephyr.requests",
        "vs_references.bare_sql",
        "vs_references.apalis",
    ] {
        positive(r, p);
    }
    assert_eq!(num(r, "run.done"), num(r, "run.records"));
    assert!(num(r, "run.records") >= num(r, "enqueue.records"));
    assert!(num(r, "run.latency_ms.p99") >= num(r, "run.latency_ms.p50"));
    assert_eq!(r["run"]["finished"], true);
    assert_eq!(r["run"]["verified"], true);
    assert_eq!(r["run"]["failed"], 0);
    assert_eq!(r["run"]["postgres"]["claim_by_id_array"], true);
    assert_eq!(r["run"]["postgres"]["notify_trigger"], false);
    assert_eq!(num(r, "run.mocks.qtest.rate_limited"), 0.0);
    // Update churn of the tables rewritten per record: every record and job was updated.
    let churn = r["run"]["postgres"]["churn"].as_array().expect("churn");
    let tables: Vec<&str> = churn.iter().filter_map(|c| c["table"].as_str()).collect();
    assert_eq!(tables, ["public.records", "apalis.jobs"], "{churn:?}");
    for c in churn {
        assert!(num(c, "updates") >= num(r, "run.done") * 0.5, "{c}");
        let hot = num(c, "hot_updates_pct");
        assert!((0.0..=100.0).contains(&hot), "{c}");
    }
    let sizing = report["bench"]["postgres_sizing"].as_str().expect("sizing");
    assert!(sizing.contains("shared_buffers"), "{sizing}");
    let kinds = r["run"]["by_kind"].as_object().expect("by_kind");
    for kind in [
        "folder",
        "cycle_folder",
        "test_case",
        "test_cycle",
        "execution",
        "attachment",
    ] {
        let k = &kinds[kind];
        positive(k, "records");
        assert_eq!(k["done"], k["records"], "{kind}: {k}");
        positive(k, "latency_ms.p50");
        positive(k, "ready_to_done_ms.p50");
    }

    let refs = &report["references"];
    for p in [
        "bare_sql.jobs_per_sec",
        "bare_sql.drain_secs",
        "apalis_push.jobs_per_sec",
        "apalis.jobs_per_sec",
    ] {
        positive(refs, p);
    }
    assert_eq!(refs["bare_sql"]["jobs"], 2000);
    assert_eq!(refs["apalis"]["jobs"], 2000);
    assert_eq!(refs["apalis"]["timed_out"], false);

    let checks = &report["queue_checks"];
    positive(checks, "push_with_notify_trigger.jobs_per_sec");
    positive(checks, "push_without_trigger.jobs_per_sec");
    let drains = checks["drains"].as_array().expect("drains");
    assert_eq!(drains.len(), 5, "{checks}");
    for d in drains {
        assert_eq!(d["drain"]["jobs"], 2000, "{d}");
        assert_eq!(d["drain"]["timed_out"], false, "{d}");
        positive(d, "drain.jobs_per_sec");
    }
    for h in ["claim_query", "fetch_batch", "no_notify_trigger"] {
        assert_eq!(checks["handled"][h], true, "{h}: {checks}");
    }

    let targets = report["targets"].as_array().expect("targets");
    let names: Vec<&str> = targets.iter().filter_map(|t| t["name"].as_str()).collect();
    for name in [
        "enqueue throughput",
        "enqueue peak RSS",
        "enqueue → verified throughput",
        "worker peak RSS",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    for t in targets {
        assert!(t["pass"].is_boolean(), "{t}");
        assert!(t["measured"].is_number(), "{t}");
        assert!(t["margin_pct"].is_number(), "{t}");
    }
}
