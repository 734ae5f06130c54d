//! Secrets: after a whole run made with known credentials (a Zephyr token, a qTest user's
//! password and the token qTest hands out for it), none of them appears in the logs of any
//! program at any level, in the database (job payloads included), in the metrics or in any
//! report.

use crate::support::{Env, metrics_addr, parse_run_id, scrape, sigterm, tempdir, wait_exit};
use ztoq_cli::mock::DEMO_ZEPHYR_TOKEN;
use ztoq_mock::qtest::QtestMockConfig;
use ztoq_pgtemp::testdb::TestDb;

const QTEST_PASSWORD: &str = "pw-5d1c0e8f-do-not-print";
const QTEST_TOKEN: &str = "tok-9a72b4c3-do-not-print";

/// Every row of every table of ztoq's and apalis's schemas, as text; bytea columns (apalis's
/// job payloads) are also decoded as UTF-8 so a secret inside them would show.
async fn database_text(env: &Env) -> String {
    let pool = env.db.pool().await;
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_schema::text, table_name::text FROM information_schema.tables
         WHERE table_schema IN ('public', 'apalis') AND table_type = 'BASE TABLE'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(tables.len() > 5, "tables found: {tables:?}");
    let mut text = String::new();
    for (schema, table) in tables {
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT t::text FROM \"{schema}\".\"{table}\" t"
        )))
        .fetch_all(&pool)
        .await
        .unwrap();
        text.extend(rows.into_iter().map(|r| r + "\n"));
    }
    let payloads: Vec<String> =
        sqlx::query_scalar("SELECT convert_from(job, 'UTF8') FROM apalis.jobs")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(!payloads.is_empty(), "jobs were pushed");
    text.extend(payloads.into_iter().map(|r| r + "\n"));
    text
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_passwords_appear_in_no_log_row_metric_or_report() {
    let qtest = QtestMockConfig {
        token: QTEST_TOKEN.into(),
        username: "migrator@example.com".into(),
        password: QTEST_PASSWORD.into(),
        ..QtestMockConfig::default()
    };
    let env = Env::with(TestDb::new().await, 300, 47, qtest).await;
    // Log in with the password (the token qTest hands out must not leak either), at every
    // log level.
    let login = [
        ("ZTOQ_QTEST_TOKEN", ""),
        ("ZTOQ_QTEST_USERNAME", "migrator@example.com"),
        ("ZTOQ_QTEST_PASSWORD", QTEST_PASSWORD),
        ("ZTOQ_LOG", "trace"),
    ];
    let mut outputs = String::new();
    let mut keep = |out: &std::process::Output| {
        outputs.push_str(&String::from_utf8_lossy(&out.stdout));
        outputs.push_str(&String::from_utf8_lossy(&out.stderr));
    };
    let enqueued = env.enqueue_with(&login);
    keep(&enqueued);
    let run = parse_run_id(&enqueued);

    let dir = tempdir("secrets");
    let metrics_addr = metrics_addr();
    let log_path = dir.join("worker.log");
    let mut worker = env.worker(
        "secrets",
        &["--metrics-addr", &metrics_addr],
        &login,
        std::process::Stdio::from(std::fs::File::create(&log_path).unwrap()),
    );
    env.wait_settled(run, std::time::Duration::from_secs(120));
    let metrics = scrape(&metrics_addr).await;
    assert!(metrics.contains("ztoq_records_total"), "metrics scraped");
    sigterm(&worker);
    let (exit, _) = wait_exit(&mut worker, std::time::Duration::from_secs(60)).await;
    assert!(exit.success());
    let worker_log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        worker_log.contains("TRACE") || worker_log.contains("DEBUG"),
        "the worker logged at the most verbose level"
    );
    let _ = std::fs::remove_dir_all(&dir);

    // Every report, as JSON and as text, with the same credentials in the environment.
    let run_arg = run.to_string();
    for args in [
        vec!["status", "--run", &run_arg],
        vec!["failures", "--run", &run_arg],
        vec!["verify", "--run", &run_arg],
        vec!["retry", "--run", &run_arg],
    ] {
        keep(&env.ztoq(&args, &login));
        let mut json = args.clone();
        json.push("--json");
        let out = env.ztoq(&json, &login);
        assert!(out.status.success(), "ztoq {json:?} failed");
        keep(&out);
    }

    let database = database_text(&env).await;
    assert!(
        database.contains(&env.project_key) && database.contains("ztoq-records"),
        "the dump holds the run and its jobs"
    );
    for (what, text) in [
        ("program output and logs", &outputs),
        ("worker log", &worker_log),
        ("database", &database),
        ("metrics", &metrics),
    ] {
        for secret in [QTEST_PASSWORD, QTEST_TOKEN, DEMO_ZEPHYR_TOKEN] {
            assert!(!text.contains(secret), "a secret appears in the {what}");
            assert!(
                !text.contains(&hex(secret)),
                "a secret appears hex-encoded in the {what}"
            );
        }
    }
}
