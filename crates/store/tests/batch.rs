//! The worker's batched statements on a real Postgres: records loaded with their parents,
//! outcomes marked done only at the generation their attempt worked on (finishing the batch's
//! jobs in the same statement), dependents released once by parents finishing in the same
//! batch, jobs given back, and steps replaced whole.

use sqlx::PgPool;
use ztoq_model::zephyr::{ExecutionStep, TestStep};
use ztoq_model::{RecordKind as K, RecordState};
use ztoq_pgtemp::testdb::TestDb;
use ztoq_store::records::{self, DoneRecord};
use ztoq_store::{jobs, snapshot};

mod common;
use common::{dep, rec, setup};

async fn id_of(pool: &PgPool, run: i64, kind: K, source_id: i64) -> i64 {
    let mut conn = pool.acquire().await.unwrap();
    records::find(&mut conn, run, kind, source_id)
        .await
        .unwrap()
        .unwrap()
        .id
}

/// A folder, a cycle, a test case in the folder and an execution of the case in the cycle.
async fn project(pool: &PgPool, run: i64) {
    let mut tx = pool.begin().await.unwrap();
    for (kind, recs, deps) in [
        (K::Folder, vec![rec(1)], vec![]),
        (K::TestCycle, vec![rec(2)], vec![]),
        (K::TestCase, vec![rec(3)], vec![dep(3, K::Folder, 1)]),
        (
            K::Execution,
            vec![rec(4)],
            vec![dep(4, K::TestCase, 3), dep(4, K::TestCycle, 2)],
        ),
    ] {
        records::insert_records(&mut tx, run, kind, &recs, &deps)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

/// Job ids and statuses of a record's jobs, by generation.
async fn jobs_of(pool: &PgPool, record_id: i64) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT id, status FROM apalis.jobs WHERE idempotency_key LIKE 'rec-' || $1 || '-%'
         ORDER BY idempotency_key",
    )
    .bind(record_id)
    .fetch_all(pool)
    .await
    .unwrap()
}

fn done(id: i64, job_seq: Option<i32>) -> DoneRecord {
    DoneRecord {
        id,
        job_seq,
        qtest_id: id * 10,
        qtest_data: Some(serde_json::json!({ "n": id })),
    }
}

#[tokio::test]
async fn loads_records_with_their_parents() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let run = setup(&pool).await;
    project(&pool, run).await;
    let (case, cycle, execution) = (
        id_of(&pool, run, K::TestCase, 3).await,
        id_of(&pool, run, K::TestCycle, 2).await,
        id_of(&pool, run, K::Execution, 4).await,
    );
    let mut conn = pool.acquire().await.unwrap();
    let loaded = records::load_many(&mut conn, &[execution, cycle, 999_999])
        .await
        .unwrap();
    assert_eq!(loaded.len(), 2, "the missing id is absent");
    let (record, parents) = &loaded[&execution];
    assert_eq!((record.kind, record.source_id), (K::Execution, 4));
    let mut parent_ids: Vec<i64> = parents.iter().map(|p| p.id).collect();
    parent_ids.sort_unstable();
    let mut expected = vec![case, cycle];
    expected.sort_unstable();
    assert_eq!(parent_ids, expected);
    assert!(loaded[&cycle].1.is_empty());
}

#[tokio::test]
async fn outcomes_mark_done_at_their_generation_and_finish_the_batch_jobs() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let run = setup(&pool).await;
    project(&pool, run).await;
    let (folder, cycle) = (
        id_of(&pool, run, K::Folder, 1).await,
        id_of(&pool, run, K::TestCycle, 2).await,
    );
    let folder_job = jobs_of(&pool, folder).await[0].0.clone();
    let cycle_job = jobs_of(&pool, cycle).await[0].0.clone();

    let mut tx = pool.begin().await.unwrap();
    // The cycle's attempt worked on generation 7, which it is not at: left alone.
    let marked = records::mark_done_many(
        &mut tx,
        &[done(folder, Some(1)), done(cycle, Some(7))],
        &[folder_job.clone(), cycle_job.clone()],
    )
    .await
    .unwrap();
    assert_eq!(marked, [folder]);
    assert_eq!(records::release_many(&mut tx, &marked).await.unwrap(), 1);
    tx.commit().await.unwrap();

    let mut conn = pool.acquire().await.unwrap();
    let f = records::get(&mut conn, folder).await.unwrap().unwrap();
    assert_eq!(
        (f.state, f.qtest_id),
        (RecordState::Done, Some(folder * 10))
    );
    assert_eq!(f.qtest_data, Some(serde_json::json!({ "n": folder })));
    let c = records::get(&mut conn, cycle).await.unwrap().unwrap();
    assert_eq!(c.state, RecordState::Ready);
    // Both jobs of the batch end, whatever their record's outcome.
    assert_eq!(jobs_of(&pool, folder).await[0].1, "Done");
    assert_eq!(jobs_of(&pool, cycle).await[0].1, "Done");
    // The folder released its test case: ready, with its first job.
    let case = id_of(&pool, run, K::TestCase, 3).await;
    let r = records::get(&mut conn, case).await.unwrap().unwrap();
    assert_eq!((r.state, r.job_seq), (RecordState::Ready, 1));
    assert_eq!(jobs_of(&pool, case).await.len(), 1);
}

#[tokio::test]
async fn parents_done_in_one_batch_release_a_child_once() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let run = setup(&pool).await;
    project(&pool, run).await;
    let ids = [
        id_of(&pool, run, K::Folder, 1).await,
        id_of(&pool, run, K::TestCycle, 2).await,
    ];
    let mut tx = pool.begin().await.unwrap();
    records::mark_done_and_release(&mut tx, ids[0], 1, None)
        .await
        .unwrap();
    let case = id_of(&pool, run, K::TestCase, 3).await;
    // The case and the cycle, both parents of the execution, finish in the same batch.
    let marked = records::mark_done_many(&mut tx, &[done(case, None), done(ids[1], None)], &[])
        .await
        .unwrap();
    assert_eq!(marked.len(), 2);
    assert_eq!(records::release_many(&mut tx, &marked).await.unwrap(), 1);
    tx.commit().await.unwrap();
    let execution = id_of(&pool, run, K::Execution, 4).await;
    let (state, pending, job_seq): (String, i32, i32) =
        sqlx::query_as("SELECT state, pending_deps, job_seq FROM records WHERE id = $1")
            .bind(execution)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((state.as_str(), pending, job_seq), ("ready", 0, 1));
    assert_eq!(jobs_of(&pool, execution).await.len(), 1);
}

#[tokio::test]
async fn a_job_given_back_runs_again_later_as_a_further_attempt() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let run = setup(&pool).await;
    project(&pool, run).await;
    let folder = id_of(&pool, run, K::Folder, 1).await;
    let job = jobs_of(&pool, folder).await[0].0.clone();
    sqlx::query("UPDATE apalis.jobs SET status = 'Queued', lock_at = now() WHERE id = $1")
        .bind(&job)
        .execute(&pool)
        .await
        .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(
        jobs::requeue(&mut conn, std::slice::from_ref(&job), 30.0)
            .await
            .unwrap(),
        1
    );
    let (status, attempts, later): (String, i32, bool) = sqlx::query_as(
        "SELECT status, attempts, run_at > now() + interval '20 seconds' FROM apalis.jobs
         WHERE id = $1",
    )
    .bind(&job)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), attempts, later), ("Pending", 1, true));
    assert_eq!(
        jobs::finish(&mut conn, std::slice::from_ref(&job))
            .await
            .unwrap(),
        1
    );
    assert_eq!(jobs_of(&pool, folder).await[0].1, "Done");
}

#[tokio::test]
async fn steps_are_replaced_whole() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let run = setup(&pool).await;
    let step = |d: &str| -> TestStep {
        serde_json::from_value(serde_json::json!({ "inline": { "description": d } })).unwrap()
    };
    let result = |d: &str| -> ExecutionStep {
        serde_json::from_value(serde_json::json!({ "inline": { "description": d } })).unwrap()
    };
    let mut conn = pool.acquire().await.unwrap();
    let three = [step("a"), step("b"), step("c")];
    let two_results = [result("x"), result("y")];
    snapshot::save_test_steps_many(&mut conn, &[(run, 1, &three[..]), (run, 2, &three[..])])
        .await
        .unwrap();
    snapshot::save_execution_steps_many(&mut conn, &[(run, 5, &two_results[..])])
        .await
        .unwrap();
    // Read again with fewer steps (an edit in Zephyr between two attempts): the rows past the
    // new last step go; the other case keeps its own.
    snapshot::save_test_steps_many(&mut conn, &[(run, 1, &[step("A")][..])])
        .await
        .unwrap();
    snapshot::save_execution_steps_many(&mut conn, &[(run, 5, &[][..])])
        .await
        .unwrap();
    let described = |steps: Vec<TestStep>| -> Vec<String> {
        steps
            .into_iter()
            .map(|s| s.inline.unwrap().description.unwrap())
            .collect()
    };
    assert_eq!(
        described(snapshot::test_steps(&mut conn, run, 1).await.unwrap()),
        ["A"]
    );
    assert_eq!(
        described(snapshot::test_steps(&mut conn, run, 2).await.unwrap()),
        ["a", "b", "c"]
    );
    assert!(
        snapshot::execution_steps(&mut conn, run, 5)
            .await
            .unwrap()
            .is_empty()
    );
}
