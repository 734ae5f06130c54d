//! Pacing requests to a rate shared by every process that talks to one API.
//!
//! A [`Pacer`] hands out send slots from a shared schedule (a [`SlotSource`]: in ztoq, a
//! Postgres row, `ztoq_store::ratelimit`). It reserves a few consecutive slots at a time
//! (about a tenth of a second's worth) and gives them to the requests of this process in
//! order, each waiting until its slot. Slots are globally unique, so N processes together send
//! at the schedule's rate instead of N times it, and evenly spaced, so an API's token bucket
//! sees no bursts. A slot nobody used in time (more than one interval late) is dropped rather
//! than spent in a burst.
//!
//! When the source fails (Postgres unreachable), the pacer waits one interval per request on
//! its own and logs it once: never faster than the configured rate from this process.

use crate::Api;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Consecutive send slots reserved from a shared schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slots {
    /// Time from the reservation until the first slot.
    pub first_in: Duration,
    /// Time between two slots.
    pub interval: Duration,
    /// Number of slots.
    pub count: u32,
}

/// The boxed future a [`SlotSource`] returns.
pub type ReserveFuture<'a> = Pin<Box<dyn Future<Output = Result<Slots, String>> + Send + 'a>>;

/// A shared schedule of send slots.
pub trait SlotSource: Send + Sync + 'static {
    /// Reserves `count` consecutive slots; the error is a message for the log.
    fn reserve(&self, count: u32) -> ReserveFuture<'_>;
}

/// Hands out slots of a shared schedule to this process's requests; see the module docs.
pub struct Pacer {
    api: Api,
    source: Arc<dyn SlotSource>,
    interval: Duration,
    batch: u32,
    local: Mutex<Local>,
    warned: AtomicBool,
}

/// Slots reserved and not used yet: `left` slots from `next` on, `interval` apart.
struct Local {
    next: Instant,
    left: u32,
    interval: Duration,
}

impl std::fmt::Debug for Pacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pacer")
            .field("api", &self.api.as_str())
            .field("interval", &self.interval)
            .field("batch", &self.batch)
            .finish_non_exhaustive()
    }
}

/// Slots reserved at once for a rate: a tenth of a second's worth, 1 to 100.
pub fn batch_for(per_second: f64) -> u32 {
    (per_second / 10.0).ceil().clamp(1.0, 100.0) as u32
}

impl Pacer {
    /// A pacer for `api` at `per_second` requests/s (the rate the source's schedule is set
    /// to; used only to pace on its own when the source fails).
    pub fn new(api: Api, per_second: f64, source: Arc<dyn SlotSource>) -> Self {
        let interval = Duration::from_secs_f64(1.0 / per_second.max(f64::MIN_POSITIVE));
        Pacer {
            api,
            source,
            interval,
            batch: batch_for(per_second),
            local: Mutex::new(Local {
                next: Instant::now(),
                left: 0,
                interval,
            }),
            warned: AtomicBool::new(false),
        }
    }

    /// Waits for this request's slot. Records the wait in
    /// `ztoq_api_pacing_wait_seconds{api}`.
    pub async fn wait(&self) {
        let started = Instant::now();
        let slot = self.next_slot().await;
        tokio::time::sleep_until(slot).await;
        metrics::histogram!("ztoq_api_pacing_wait_seconds", "api" => self.api.as_str())
            .record(started.elapsed().as_secs_f64());
    }

    async fn next_slot(&self) -> Instant {
        let mut guard = self.local.lock().await;
        let local = &mut *guard;
        loop {
            let now = Instant::now();
            // Drop slots more than one interval late: spending them would be a burst.
            while local.left > 0 && local.next + local.interval < now {
                local.next += local.interval;
                local.left -= 1;
            }
            if local.left > 0 {
                let slot = local.next;
                local.next += local.interval;
                local.left -= 1;
                return slot;
            }
            match self.source.reserve(self.batch).await {
                Ok(slots) if slots.count > 0 => {
                    *local = Local {
                        next: Instant::now() + slots.first_in,
                        left: slots.count,
                        interval: slots.interval,
                    };
                }
                Ok(_) => return Instant::now() + self.interval,
                Err(message) => {
                    if !self.warned.swap(true, Ordering::Relaxed) {
                        tracing::warn!(
                            api = self.api.as_str(),
                            "shared rate limit unavailable ({message}); pacing this process alone"
                        );
                    }
                    return Instant::now() + self.interval;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex as StdMutex;

    /// An in-memory schedule: what the Postgres row does, for unit tests.
    struct MemorySchedule {
        interval: Duration,
        next: StdMutex<Instant>,
        fail: bool,
    }

    impl SlotSource for MemorySchedule {
        fn reserve(&self, count: u32) -> ReserveFuture<'_> {
            Box::pin(async move {
                if self.fail {
                    return Err("down".into());
                }
                let mut next = self.next.lock().map_err(|e| e.to_string())?;
                let now = Instant::now();
                let first = (*next).max(now);
                *next = first + self.interval * count;
                Ok(Slots {
                    first_in: first - now,
                    interval: self.interval,
                    count,
                })
            })
        }
    }

    fn schedule(per_second: f64, fail: bool) -> Arc<MemorySchedule> {
        Arc::new(MemorySchedule {
            interval: Duration::from_secs_f64(1.0 / per_second),
            next: StdMutex::new(Instant::now()),
            fail,
        })
    }

    /// Sends as fast as the pacers allow from `pacers` concurrently for `secs`; returns sends.
    async fn sends(pacers: Vec<Arc<Pacer>>, tasks_each: usize, secs: f64) -> usize {
        let until = Instant::now() + Duration::from_secs_f64(secs);
        let mut handles = Vec::new();
        for pacer in pacers {
            for _ in 0..tasks_each {
                let pacer = pacer.clone();
                handles.push(tokio::spawn(async move {
                    let mut n = 0;
                    loop {
                        pacer.wait().await;
                        if Instant::now() >= until {
                            return n;
                        }
                        n += 1;
                    }
                }));
            }
        }
        let mut total = 0;
        for h in handles {
            total += h.await.unwrap_or(0);
        }
        total
    }

    #[tokio::test(start_paused = true)]
    async fn pacers_sharing_a_schedule_send_at_its_rate_not_a_multiple() {
        let source = schedule(100.0, false);
        let pacers: Vec<Arc<Pacer>> = (0..4)
            .map(|_| Arc::new(Pacer::new(Api::Qtest, 100.0, source.clone())))
            .collect();
        let sent = sends(pacers, 8, 10.0).await;
        // 100/s for 10 s, give or take the last reserved batches.
        assert!((990..=1010).contains(&sent), "sent {sent}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_pacer_drops_late_slots_instead_of_bursting() {
        let source = schedule(10.0, false);
        let pacer = Pacer::new(Api::Qtest, 10.0, source);
        pacer.wait().await;
        tokio::time::sleep(Duration::from_secs(5)).await;
        let before = Instant::now();
        pacer.wait().await;
        pacer.wait().await;
        // The two waits after the pause are one interval apart, not both immediate.
        assert!(Instant::now() - before >= Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_source_paces_this_process_alone() {
        let pacer = Arc::new(Pacer::new(Api::Qtest, 50.0, schedule(50.0, true)));
        let sent = sends(vec![pacer], 1, 2.0).await;
        assert!((95..=101).contains(&sent), "sent {sent}");
    }

    #[test]
    fn batches_are_a_tenth_of_a_second() {
        assert_eq!(batch_for(5.0), 1);
        assert_eq!(batch_for(100.0), 10);
        assert_eq!(batch_for(1e6), 100);
    }
}
