//! The read-ahead machinery without Postgres or qTest: the order in which [`drive`] starts,
//! merges and compares pages, that every failure (a read, the reader, a panic) reaches the
//! caller, and that [`fetch_each`] and [`Task`] leave nothing running behind them.

use super::*;
use crate::report::Mismatch;
use futures::FutureExt;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use ztoq_http::{ClientOptions, Secret};
use ztoq_model::settings::RunSettings;
use ztoq_qtest::{QtestAuth, QtestClient};

/// What a [`Ctx`] borrows (a lazy pool and a client that never connect).
struct Fixture {
    pool: PgPool,
    qtest: QtestClient,
    settings: RunSettings,
    kinds: BTreeMap<RecordKind, crate::KindReport>,
    out: Vec<Mismatch>,
}

impl Fixture {
    async fn new() -> Self {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .connect_lazy("postgres://nobody@127.0.0.1:1/none")
            .unwrap();
        let auth = QtestAuth::Token(Secret::new("t"));
        let qtest = QtestClient::connect("http://127.0.0.1:1", 1, auth, &ClientOptions::default())
            .await
            .unwrap();
        Fixture {
            pool,
            qtest,
            settings: RunSettings::default(),
            kinds: BTreeMap::new(),
            out: Vec::new(),
        }
    }

    fn ctx(&mut self) -> Ctx<'_> {
        Ctx {
            pool: &self.pool,
            qtest: &self.qtest,
            lists: self.qtest.clone(),
            settings: &self.settings,
            run_id: 1,
            kinds: &mut self.kinds,
            out: &mut self.out,
        }
    }
}

/// A check that writes down what happens to pages numbered by their source.
struct Recorder {
    events: Arc<Mutex<Vec<String>>>,
    merged: Vec<u32>,
    fail_reads_of: Option<u32>,
}

impl Recorder {
    fn new(fail_reads_of: Option<u32>) -> Self {
        Recorder {
            events: Arc::default(),
            merged: Vec::new(),
            fail_reads_of,
        }
    }

    fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }
}

impl Check for Recorder {
    type Source = u32;
    type Reads = u32;

    fn reads(
        &self,
        page: &Page<u32>,
    ) -> impl Future<Output = Result<u32, ApiError>> + Send + 'static {
        let n = page.source;
        self.events
            .lock()
            .unwrap()
            .push(format!("read {n} after {:?}", self.merged));
        let fail = self.fail_reads_of == Some(n);
        async move {
            tokio::time::sleep(Duration::from_millis(2)).await;
            if fail {
                Err(cancelled("test read"))
            } else {
                Ok(n)
            }
        }
    }

    fn merge(&mut self, reads: u32) {
        self.merged.push(reads);
        self.events.lock().unwrap().push(format!("merge {reads}"));
    }

    fn compare(&mut self, cx: &mut Ctx<'_>, page: Page<u32>) {
        assert!(self.merged.contains(&page.source), "compared before merged");
        self.events
            .lock()
            .unwrap()
            .push(format!("compare {}", page.source));
        cx.kind(RecordKind::Execution).verified += 1;
    }
}

fn pages(numbers: impl IntoIterator<Item = u32>) -> Vec<Result<Page<u32>, sqlx::Error>> {
    numbers
        .into_iter()
        .map(|n| {
            Ok(Page {
                done: Vec::new(),
                source: n,
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_page_is_compared_after_its_reads_while_the_next_ones_are_read() {
    let mut fx = Fixture::new().await;
    let mut check = Recorder::new(None);
    let mut source = Pages::from_reader(async { pages(1..=4) });
    drive(&mut fx.ctx(), &mut source, &mut check).await.unwrap();
    let expected = [
        "read 1 after []",
        "merge 1",
        "read 2 after [1]",
        "compare 1",
        "merge 2",
        "read 3 after [1, 2]",
        "compare 2",
        "merge 3",
        "read 4 after [1, 2, 3]",
        "compare 3",
        "merge 4",
        "compare 4",
    ];
    assert_eq!(check.events(), expected);
    assert_eq!(fx.kinds[&RecordKind::Execution].verified, 4);
    // No page at all: nothing read, nothing compared.
    let mut check = Recorder::new(None);
    let mut source = Pages::from_reader(async { pages([]) });
    drive(&mut fx.ctx(), &mut source, &mut check).await.unwrap();
    assert!(check.events().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_read_stops_the_comparison_with_its_error() {
    let mut fx = Fixture::new().await;
    let mut check = Recorder::new(Some(3));
    let mut source = Pages::from_reader(async { pages(1..=5) });
    let err = drive(&mut fx.ctx(), &mut source, &mut check)
        .await
        .unwrap_err();
    assert!(matches!(err, VerifyError::Api(_)), "{err}");
    let compared: Vec<String> = check
        .events()
        .into_iter()
        .filter(|e| e.starts_with("compare"))
        .collect();
    assert_eq!(compared, ["compare 1", "compare 2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_page_read_reaches_the_caller() {
    let mut fx = Fixture::new().await;
    let mut check = Recorder::new(None);
    let mut source = Pages::from_reader(async {
        let mut list = pages([1]);
        list.push(Err(sqlx::Error::Protocol("boom".into())));
        list.extend(pages([3]));
        list
    });
    let err = drive(&mut fx.ctx(), &mut source, &mut check)
        .await
        .unwrap_err();
    assert!(matches!(err, VerifyError::Db(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_panics_is_not_taken_for_the_last_page() {
    let mut fx = Fixture::new().await;
    let mut check = Recorder::new(None);
    let mut source: Pages<u32> = Pages::from_reader(async { panic!("reader died") });
    let outcome = std::panic::AssertUnwindSafe(drive(&mut fx.ctx(), &mut source, &mut check))
        .catch_unwind()
        .await;
    assert!(
        outcome.is_err(),
        "the reader's panic must reach the comparison"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_each_returns_every_value_or_the_first_error() {
    let read = fetch_each(0..40u32, |k| {
        let k = *k;
        async move { Ok(k * 2) }
    })
    .await
    .unwrap();
    let mut read: Vec<(u32, u32)> = read;
    read.sort_unstable();
    assert_eq!(read, (0..40).map(|k| (k, k * 2)).collect::<Vec<_>>());
    let err = fetch_each(0..40u32, |k| {
        let k = *k;
        async move {
            if k == 7 {
                Err(cancelled("test read"))
            } else {
                tokio::time::sleep(Duration::from_millis(5)).await;
                Ok(k)
            }
        }
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains("test read"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_task_is_aborted() {
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    let task = Task::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        flag.store(true, Ordering::SeqCst);
    });
    drop(task);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(!ran.load(Ordering::SeqCst), "the task ran to its end");
    let mut done = Task::spawn(async { 5 });
    assert_eq!(done.join().await, Some(5));
}
