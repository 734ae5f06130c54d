//! One level of the order: pages through a kind's pending records, plans each, runs the
//! deletes, and repeats while a round removed something and left records waiting (the
//! leaves-first passes over a folder tree).

use super::delete::delete_all;
use super::plan::{Plan, plan};
use super::report::{RollbackReport, progress_line};
use super::{Ctx, store};
use anyhow::Result;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use ztoq_model::RecordKind;
use ztoq_qtest::Deletion;

/// Records per page read from Postgres.
const PAGE: i64 = 500;

/// Rolls back every pending record of one kind, in rounds while a round removed something and
/// left records waiting for their dependents (the leaves-first passes over a folder tree).
pub(super) async fn level(
    ctx: &Arc<Ctx>,
    kind: RecordKind,
    concurrency: usize,
    report: &mut RollbackReport,
) -> Result<()> {
    let mut failed_here: HashSet<i64> = HashSet::new();
    let mut last_print = Instant::now();
    loop {
        let mut progressed = 0u64;
        let mut waiting = 0u64;
        let mut after = 0i64;
        loop {
            let mut conn = ctx.pool.acquire().await?;
            let page = store::pending_page(&mut conn, ctx.run_id, kind, after, PAGE).await?;
            let Some(last) = page.last() else {
                break;
            };
            after = last.record_id;
            let mut items = Vec::new();
            let mut runs_seen = HashSet::new();
            for p in page {
                if failed_here.contains(&p.record_id) {
                    continue;
                }
                match plan(ctx, &mut conn, kind, &p, &mut runs_seen).await? {
                    Plan::Delete(item) => items.push(item),
                    Plan::Gone(records) => {
                        let n = store::mark_rolled_back(&mut conn, &records).await?;
                        report.kind(kind).already_gone += n;
                        progressed += n;
                    }
                    Plan::Wait(n) => waiting += n,
                    Plan::Fail(records, error) => {
                        store::mark_failed(&mut conn, &records, &error).await?;
                        report.fail(kind, &p.source_key, records.len(), error);
                        failed_here.extend(records);
                    }
                    Plan::Skip => {}
                }
            }
            drop(conn);
            for done in delete_all(ctx, items, concurrency).await? {
                let n = done.item.records.len() as u64;
                match done.result {
                    Ok(Deletion::Deleted) => {
                        report.kind(kind).deleted += n;
                        progressed += n;
                    }
                    Ok(Deletion::AlreadyGone) => {
                        report.kind(kind).already_gone += n;
                        progressed += n;
                    }
                    Err(error) => {
                        report.fail(kind, &done.item.source_key, done.item.records.len(), error);
                        failed_here.extend(done.item.records);
                    }
                }
            }
            if last_print.elapsed() > Duration::from_secs(2) {
                progress_line(kind, report);
                last_print = Instant::now();
            }
        }
        if progressed == 0 || waiting == 0 {
            break;
        }
    }
    progress_line(kind, report);
    Ok(())
}
