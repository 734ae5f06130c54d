//! Folders and cycles: modules and test cycles, found again by name under the same parent.

use super::{Job, Outcome, created_id, plain};
use crate::failure::Failure;
use ztoq_model::RecordKind;
use ztoq_qtest::CycleParent;
use ztoq_store::snapshot;

/// A test-case folder → a module under its parent's module.
pub async fn folder(job: &Job<'_>) -> Result<Outcome, Failure> {
    let mut conn = job.ctx.pool.acquire().await?;
    let folder = snapshot::folder(&mut conn, job.run.run_id, job.record.source_id)
        .await?
        .ok_or_else(|| job.missing("the folder"))?;
    drop(conn);
    let parent = match folder.parent_id {
        Some(_) => Some(job.parent_qtest_id(RecordKind::Folder)?),
        None => None,
    };
    let body = ztoq_transform::module(&folder)?;
    if job.maybe_applied {
        let existing = job.run.qtest.modules(parent, false).await?;
        let candidates = existing
            .into_iter()
            .filter(|m| m.name == body.name && m.parent_id == parent)
            .filter_map(|m| m.id)
            .collect();
        if let Some(id) = job.first_unclaimed(candidates).await? {
            return Ok(plain(id, true));
        }
    }
    let created = job.run.qtest.create_module(parent, &body).await?;
    Ok(plain(created_id(created.id, "module")?, false))
}

async fn cycle_under(
    job: &Job<'_>,
    parent: CycleParent,
    body: &ztoq_model::qtest::TestCycle,
) -> Result<Outcome, Failure> {
    if job.maybe_applied {
        let existing = job.run.qtest.test_cycles(parent, false).await?;
        let candidates = existing
            .into_iter()
            .filter(|c| c.name == body.name)
            .filter_map(|c| c.id)
            .collect();
        if let Some(id) = job.first_unclaimed(candidates).await? {
            return Ok(plain(id, true));
        }
    }
    let created = job.run.qtest.create_test_cycle(parent, body).await?;
    Ok(plain(created_id(created.id, "test cycle")?, false))
}

/// A test-cycle folder → a test cycle under its parent's cycle (or the root).
pub async fn cycle_folder(job: &Job<'_>) -> Result<Outcome, Failure> {
    let mut conn = job.ctx.pool.acquire().await?;
    let folder = snapshot::folder(&mut conn, job.run.run_id, job.record.source_id)
        .await?
        .ok_or_else(|| job.missing("the folder"))?;
    drop(conn);
    let parent = match folder.parent_id {
        Some(_) => CycleParent::TestCycle(job.parent_qtest_id(RecordKind::CycleFolder)?),
        None => CycleParent::Root,
    };
    cycle_under(job, parent, &ztoq_transform::cycle_folder(&folder)?).await
}

/// A test cycle → a test cycle under its folder's cycle (or the root).
pub async fn test_cycle(job: &Job<'_>) -> Result<Outcome, Failure> {
    let mut conn = job.ctx.pool.acquire().await?;
    let cycle = snapshot::test_cycle(&mut conn, job.run.run_id, job.record.source_id)
        .await?
        .ok_or_else(|| job.missing("the test cycle"))?;
    drop(conn);
    let parent = match cycle.folder {
        Some(_) => CycleParent::TestCycle(job.parent_qtest_id(RecordKind::CycleFolder)?),
        None => CycleParent::Root,
    };
    cycle_under(job, parent, &ztoq_transform::test_cycle(&cycle)?).await
}
