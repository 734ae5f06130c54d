//! A hostile source (the Zephyr mock's hostile mode): malformed and incomplete items, a test
//! case whose folder does not exist, an execution of a deleted test case, a folder loop,
//! megabyte strings, NULs and unusual unicode, HTML and `<script>` in text, a 60 MB
//! attachment, an offset page that is not JSON and pages that repeat records. The enqueue
//! succeeds; each bad record fails with a reason naming it (or is degraded and reported);
//! every good record is migrated and verifies; no worker panics, nothing is left waiting.

use crate::support::{Env, kind};
use std::process::Stdio;
use std::time::{Duration, Instant};
use ztoq_cli::mock::DEMO_ZEPHYR_TOKEN;

/// Runs `ztoq-enqueue --json` with a small page size (so lists span pages and the repeats
/// show); returns its report and its log.
fn enqueue_json(env: &Env, page_size: u32) -> (serde_json::Value, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ztoq-enqueue"))
        .env("ZTOQ_DATABASE_URL", &env.db.url)
        .env("ZTOQ_ZEPHYR_TOKEN", DEMO_ZEPHYR_TOKEN)
        .env("ZTOQ_QTEST_TOKEN", &env.qtest_state.config().token)
        .env("ZTOQ_LOG", "warn")
        .env("ZTOQ_PAGE_SIZE", page_size.to_string())
        .args([
            "--zephyr-url",
            &format!("{}/v2", env.zephyr.url()),
            "--project-key",
            &env.project_key,
            "--qtest-url",
            &env.qtest.url(),
            "--qtest-project-id",
            "1",
            "--json",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run ztoq-enqueue");
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "ztoq-enqueue failed: {log}");
    let report = serde_json::from_slice(&out.stdout).expect("a JSON report");
    (report, log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_source_fails_each_bad_record_by_name_and_migrates_the_rest() {
    let started = Instant::now();
    let env = Env::new(600, 13).await;
    env.zephyr_state.set_hostile(true);
    let plan = env.zephyr_state.hostile_plan();
    let sum = env.zephyr_state.summary();

    let (report, log) = enqueue_json(&env, 10);
    let run = report["run_id"].as_i64().expect("a run id");
    assert_eq!(report["unreadable"], 3, "{report}");
    assert_eq!(report["failed"], 7, "{report}");
    assert!(report["repeated"].as_u64() > Some(0), "{report}");
    let degraded: Vec<String> = report["degraded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| format!("{} {}: {}", d["kind"], d["source_key"], d["note"]))
        .collect();
    for (key, what) in [
        (plan.unicode_case.clone(), "NUL"),
        (plan.unicode_case.clone(), "U+FFFD"),
        (plan.unicode_execution.clone(), "NUL"),
        (format!("(#{})", plan.unicode_folder), "NUL"),
        (plan.big_case.clone(), "objective cut from"),
        (plan.big_case.clone(), "name cut from 604 to 500 characters"),
    ] {
        assert!(
            degraded
                .iter()
                .any(|d| d.contains(&key) && d.contains(what)),
            "{key} {what}: {degraded:#?}"
        );
        assert!(log.contains("source item degraded"), "logged too");
    }

    let workers = env.workers(2, &[]);
    let status = env.wait_settled(run, Duration::from_secs(120));
    workers.stop(); // exit 0: no worker panicked

    let expect = |k: &str, source: u64, migrated: u64, failed: u64, blocked: u64| {
        assert_eq!(
            [
                kind(&status, k, "source"),
                kind(&status, k, "migrated"),
                kind(&status, k, "failed"),
                kind(&status, k, "blocked"),
            ],
            [source, migrated, failed, blocked],
            "{k}: {status}"
        );
    };
    let attachments = sum.test_case_attachments + sum.execution_attachments;
    expect(
        "folder",
        sum.test_case_folders + 3,
        sum.test_case_folders + 1,
        2,
        0,
    );
    expect(
        "cycle_folder",
        sum.test_cycle_folders,
        sum.test_cycle_folders,
        0,
        0,
    );
    expect("test_case", sum.test_cases + 6, sum.test_cases + 2, 3, 1);
    expect("test_cycle", sum.test_cycles + 1, sum.test_cycles, 1, 0);
    expect("execution", sum.executions + 2, sum.executions + 1, 1, 0);
    expect("attachment", attachments + 2, attachments + 1, 1, 0);

    // Each failed record, named, with why.
    let (_, failures) = env.ztoq_json(&["failures", "--run", &run.to_string()]);
    let list = failures["failures"].as_array().expect("a failures list");
    let reason = |kind: &str, key: &str| -> String {
        let f = list
            .iter()
            .find(|f| f["kind"] == kind && f["source_key"] == key)
            .unwrap_or_else(|| panic!("no {kind} {key} in {failures}"));
        f["error"].as_str().unwrap_or_default().to_string()
    };
    for id in plan.loop_folders {
        let key = format!(
            "Loop {} (#{id})",
            if id == plan.loop_folders[0] { "A" } else { "B" }
        );
        let r = reason("folder", &key);
        assert!(
            r.contains("parent loop")
                && r.contains(&key.replace("Loop", "'Loop").replace(" (#", "' (#")),
            "{r}"
        );
    }
    let (id, key) = &plan.wrong_type_case;
    let r = reason("test_case", &format!("{key} (#{id})"));
    assert!(
        r.contains("cannot be read from Zephyr") && r.contains("invalid type: map"),
        "{r}"
    );
    let r = reason("test_case", &format!("#{}", plan.missing_fields_case));
    assert!(r.contains("missing field `key`"), "{r}");
    let (key, folder) = &plan.missing_folder_case;
    let r = reason("test_case", key);
    assert!(
        r.contains(key) && r.contains(&format!("folder {folder}")),
        "{r}"
    );
    let broken = list
        .iter()
        .find(|f| f["kind"] == "test_cycle" && f["state"] == "failed")
        .expect("the broken cycle");
    let r = broken["error"].as_str().unwrap();
    assert!(
        r.contains(&format!(
            "list_test_cycles item at startAt={}",
            plan.broken_cycle.0
        )) && r.contains("not valid JSON"),
        "{r}"
    );
    let (key, case) = &plan.orphan_execution;
    let r = reason("execution", key);
    assert!(
        r.contains(key) && r.contains(case) && r.contains("not in the source"),
        "{r}"
    );
    let (id, name, size) = &plan.huge_attachment;
    let r = reason("attachment", &format!("{}/{name}", plan.big_case));
    assert!(
        r.contains(&format!("(#{id})"))
            && r.contains(&format!("{size} bytes"))
            && r.contains("50 MB"),
        "{r}"
    );
    let blocked = list
        .iter()
        .find(|f| f["source_key"] == plan.loop_case.as_str())
        .expect("the case in the loop");
    assert_eq!(blocked["state"], "blocked");
    assert!(
        blocked["blocked_by"].as_str().unwrap().contains("Loop A"),
        "{blocked}"
    );

    // Verification: nothing differs; only the failed (and blocked) records are missing.
    let (ok, report) = env.verify(run);
    assert!(!ok, "the failed records keep the run from verifying");
    assert_eq!(report["mismatches"], serde_json::json!([]), "{report}");
    for k in crate::support::KINDS {
        let migrated = kind(&report, k, "migrated");
        assert_eq!(kind(&report, k, "verified"), migrated, "{k}: {report}");
        assert_eq!(kind(&report, k, "in_qtest"), migrated, "{k}: {report}");
    }
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(90), "took {elapsed:?}");
}
