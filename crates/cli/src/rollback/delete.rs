//! The deletes themselves: at most `--concurrency` in flight, each retried on transient errors
//! and marked in Postgres (rolled back or failed) as soon as qTest answered.

use super::plan::{Item, Target};
use super::{Ctx, store};
use anyhow::{Context, Result, bail};
use std::sync::Arc;
use tokio::task::JoinSet;
use ztoq_http::{ApiError, ErrorClass};
use ztoq_qtest::Deletion;
use ztoq_worker::retry::RetryPolicy;

/// The outcome of one delete.
pub(super) struct Done {
    pub(super) item: Item,
    pub(super) result: Result<Deletion, String>,
}

/// Runs the deletes with at most `concurrency` in flight; each marks its records as soon as
/// qTest answered. Credentials refused or a database error stop everything.
pub(super) async fn delete_all(
    ctx: &Arc<Ctx>,
    items: Vec<Item>,
    concurrency: usize,
) -> Result<Vec<Done>> {
    let mut set: JoinSet<Result<Done>> = JoinSet::new();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        while set.len() >= concurrency {
            if let Some(joined) = set.join_next().await {
                out.push(joined.context("a delete task panicked")??);
            }
        }
        let ctx = ctx.clone();
        set.spawn(async move { delete_one(&ctx, item).await });
    }
    while let Some(joined) = set.join_next().await {
        out.push(joined.context("a delete task panicked")??);
    }
    Ok(out)
}

/// Calls `f` until it succeeds, fails for good, or transient errors (timeouts, resets, 5xx,
/// 429) used up the policy's attempts, waiting the policy's backoff (at least `Retry-After`)
/// between attempts.
pub(super) async fn with_retry<T, F, Fut>(policy: &RetryPolicy, mut f: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let mut failures = 0u32;
    loop {
        match f().await {
            Err(e) if e.class() == ErrorClass::Transient && policy.allows_another(failures + 1) => {
                failures += 1;
                let delay = policy.delay(failures, e.retry_after());
                tracing::debug!(error = %e, delay_ms = delay.as_millis() as u64, "transient error; retrying");
                tokio::time::sleep(delay).await;
            }
            other => return other,
        }
    }
}

/// One delete with retries on transient errors, then its durable mark.
async fn delete_one(ctx: &Ctx, item: Item) -> Result<Done> {
    let qtest = &ctx.qtest;
    let attempt = with_retry(&ctx.policy, || async {
        match item.target {
            Target::Attachment {
                object_type,
                object_id,
                id,
            } => qtest.delete_attachment(object_type, object_id, id).await,
            Target::TestRun(id) => qtest.delete_test_run(id).await,
            Target::TestCycle(id) => qtest.delete_test_cycle(id, ctx.cascade).await,
            Target::TestCase(id) => qtest.delete_test_case(id).await,
            Target::Module(id) => qtest.delete_module(id, ctx.cascade).await,
        }
    })
    .await;
    let result = match attempt {
        Ok(deletion) => Ok(deletion),
        Err(e) => match e.class() {
            ErrorClass::Auth => bail!(
                "qTest refused the credentials ({e}); nothing more was deleted: fix them and run the rollback again"
            ),
            ErrorClass::Transient => Err(format!(
                "gave up after {} attempts: {e}",
                ctx.policy.max_attempts
            )),
            ErrorClass::Permanent => Err(e.to_string()),
        },
    };
    let mut conn = ctx.pool.acquire().await?;
    match &result {
        Ok(_) => {
            store::mark_rolled_back(&mut conn, &item.records).await?;
        }
        Err(error) => store::mark_failed(&mut conn, &item.records, error).await?,
    }
    Ok(Done { item, result })
}
