//! The enqueue phase of one run: `ztoq-enqueue` as a child process against the mocks, timed,
//! its memory sampled and its CPU time counted, its JSON report read for the run id.

use super::figures::{CpuMark, rate};
use crate::demo::Mocks;
use crate::mock::{DEMO_QTEST_TOKEN, DEMO_ZEPHYR_TOKEN};
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use ztoq_bench::report::EnqueueFigures;
use ztoq_bench::rss::Sampler;

/// The enqueue as a child process, its memory sampled every 200 ms, its CPU time read from
/// this process's reaped-children counters once it was waited for.
pub(super) async fn enqueue(
    exe: &Path,
    url: &str,
    mocks: &Mocks,
    log: &Path,
    postmaster: Option<u32>,
) -> Result<(i64, EnqueueFigures)> {
    let started = Instant::now();
    let mark = CpuMark::now(postmaster);
    let child = tokio::process::Command::new(exe)
        .arg("--zephyr-url")
        .arg(format!("{}/v2", mocks.zephyr.url()))
        .arg("--project-key")
        .arg(&mocks.project_key)
        .arg("--qtest-url")
        .arg(mocks.qtest.url())
        .arg("--qtest-project-id")
        .arg(mocks.project_id.to_string())
        .arg("--json")
        .env("ZTOQ_DATABASE_URL", url)
        .env("ZTOQ_ZEPHYR_TOKEN", DEMO_ZEPHYR_TOKEN)
        .env("ZTOQ_QTEST_TOKEN", DEMO_QTEST_TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log)?)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))?;
    let (zephyr_before, qtest_before) = (mocks.zephyr.faults.stats(), mocks.qtest.faults.stats());
    let sampler = Sampler::start(child.id().into_iter().collect(), Duration::from_millis(200));
    let out = child.wait_with_output().await?;
    let wall_secs = started.elapsed().as_secs_f64();
    let reaped = mark.reaped_since();
    let cpu = mark.since(postmaster, reaped);
    let rss = sampler
        .stop()
        .first()
        .map(|s| s.summary())
        .unwrap_or_default();
    if !out.status.success() {
        bail!(
            "ztoq-enqueue failed ({}); its log: {}",
            out.status,
            log.display()
        );
    }
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("reading ztoq-enqueue's JSON report")?;
    let run_id = report["run_id"]
        .as_i64()
        .context("no run_id in ztoq-enqueue's report")?;
    let records: u64 = report["inserted"]
        .as_object()
        .map(|m| m.values().filter_map(|v| v.as_u64()).sum())
        .unwrap_or(0);
    Ok((
        run_id,
        EnqueueFigures {
            wall_secs,
            records,
            ready: report["ready"].as_u64().unwrap_or(0),
            records_per_sec: rate(records, wall_secs),
            peak_rss_mb: rss.peak_mb,
            rss,
            cpu,
            zephyr_requests: mocks.zephyr.faults.stats().requests - zephyr_before.requests,
            qtest_requests: mocks.qtest.faults.stats().requests - qtest_before.requests,
        },
    ))
}
