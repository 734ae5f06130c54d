//! Shared request schedules: one per API endpoint, so that any number of worker processes
//! together send at most the configured requests per second (migration 0006).
//!
//! A schedule is a row holding the next free send slot; slots are `1 / per_second` apart.
//! [`reserve`] takes `count` consecutive slots in one update and says when the first one
//! starts, relative to the server's clock at that moment (so the caller needs no synchronised
//! clock). Slots already in the past are never handed out: an idle schedule restarts at "now".
//!
//! [`shared_pacer`] wraps a schedule in a [`Pacer`] for an API client: the way every worker
//! process (and `ztoq verify`) shares one qTest rate limit.

use sqlx::{PgConnection, PgPool, Row};
use std::sync::Arc;
use std::time::Duration;
use ztoq_http::Api;
use ztoq_http::pace::{Pacer, ReserveFuture, SlotSource, Slots};

/// `count` consecutive send slots of a schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reservation {
    /// Seconds from now until the first slot (0 or more, up to the backlog of the schedule).
    pub first_in_secs: f64,
    /// Seconds between two slots (`1 / per_second`).
    pub interval_secs: f64,
    /// Slots reserved.
    pub count: u32,
}

/// Creates the schedule `key` with `per_second` requests/s, or sets the rate of an existing
/// one (the last process to start decides; every process of a deployment should be given
/// the same rate).
pub async fn set_rate(
    conn: &mut PgConnection,
    key: &str,
    per_second: f64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO rate_limits (key, per_second) VALUES ($1, $2) \
         ON CONFLICT (key) DO UPDATE SET per_second = EXCLUDED.per_second, updated_at = now()",
    )
    .bind(key)
    .bind(per_second)
    .execute(conn)
    .await?;
    Ok(())
}

/// Reserves `count` (at least 1) consecutive slots of schedule `key`. `None` when the
/// schedule does not exist (call [`set_rate`] first).
pub async fn reserve(
    conn: &mut PgConnection,
    key: &str,
    count: u32,
) -> Result<Option<Reservation>, sqlx::Error> {
    let count = count.max(1);
    let row = sqlx::query(
        r#"
        UPDATE rate_limits
        SET next_slot = greatest(next_slot, clock_timestamp())
                        + make_interval(secs => $2::float8 / per_second)
        WHERE key = $1
        RETURNING extract(epoch FROM next_slot - clock_timestamp())::float8
                      - $2::float8 / per_second AS first_in,
                  1.0 / per_second AS interval
        "#,
    )
    .bind(key)
    .bind(f64::from(count))
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|row| Reservation {
        first_in_secs: row.get::<f64, _>("first_in").max(0.0),
        interval_secs: row.get("interval"),
        count,
    }))
}

/// The schedule key of a qTest instance: one budget per base URL, whatever the project.
fn qtest_key(base_url: &str) -> String {
    format!("qtest {}", base_url.trim_end_matches('/'))
}

/// The pacer every client of the qTest instance at `base_url` shares (workers, `ztoq
/// verify`, `ztoq rollback`), at `per_second` requests/s.
pub async fn qtest_pacer(
    pool: &PgPool,
    base_url: &str,
    per_second: f64,
) -> Result<Arc<Pacer>, sqlx::Error> {
    shared_pacer(pool, Api::Qtest, qtest_key(base_url), per_second).await
}

/// Slots from the `rate_limits` row `key`.
struct PgSchedule {
    pool: PgPool,
    key: String,
}

impl SlotSource for PgSchedule {
    fn reserve(&self, count: u32) -> ReserveFuture<'_> {
        Box::pin(async move {
            let mut conn = self.pool.acquire().await.map_err(|e| e.to_string())?;
            let reservation = reserve(&mut conn, &self.key, count)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no rate_limits row '{}'", self.key))?;
            Ok(Slots {
                first_in: Duration::from_secs_f64(reservation.first_in_secs),
                interval: Duration::from_secs_f64(reservation.interval_secs),
                count: reservation.count,
            })
        })
    }
}

/// Sets the schedule `key` to `per_second` requests/s and returns a pacer for `api` drawing
/// from it.
pub async fn shared_pacer(
    pool: &PgPool,
    api: Api,
    key: String,
    per_second: f64,
) -> Result<Arc<Pacer>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    set_rate(&mut conn, &key, per_second).await?;
    drop(conn);
    let source = Arc::new(PgSchedule {
        pool: pool.clone(),
        key,
    });
    Ok(Arc::new(Pacer::new(api, per_second, source)))
}
