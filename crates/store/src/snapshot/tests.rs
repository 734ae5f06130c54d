//! The NUL invariant end to end: text written with NULs (in values, labels, custom field
//! names, steps, attachment names) is stored, and read back, without them.

use super::{
    attachment, save_attachments, save_test_cases, save_test_steps, test_case, test_steps,
};
use ztoq_model::zephyr::{AttachmentRef, TestCase, TestStep};
use ztoq_pgtemp::testdb::TestDb;

fn case(id: i64, name: &str) -> TestCase {
    serde_json::from_value(serde_json::json!({
        "id": id, "key": format!("P-T{id}"), "name": name, "project": {"id": 1},
        "priority": {"id": 2}, "status": {"id": 3},
        "objective": "<p>a\u{0}b</p>", "labels": ["x\u{0}"],
        "customFields": {"No\u{0}te": "v\u{0}"}
    }))
    .unwrap()
}

#[tokio::test]
async fn nuls_never_reach_postgres() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    crate::migrate(&pool).await.unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let run = crate::runs::upsert(
        &mut conn,
        "http://z",
        "P",
        "http://q",
        1,
        &serde_json::json!({}),
    )
    .await
    .unwrap()
    .id;
    let cases = [case(1, "Pay\u{0} 👩‍💻 \u{200F}e\u{301}"), case(2, "plain")];
    save_test_cases(&mut conn, run, &cases).await.unwrap();
    let back = test_case(&mut conn, run, 1).await.unwrap().unwrap();
    assert_eq!(back.name, "Pay 👩‍💻 \u{200F}e\u{301}");
    assert_eq!(back.objective.as_deref(), Some("<p>ab</p>"));
    assert_eq!(back.labels, ["x"]);
    assert_eq!(back.custom_fields["Note"], "v");
    let step: TestStep = serde_json::from_value(serde_json::json!({
        "inline": {"description": "do\u{0}", "expectedResult": "\u{0}"}
    }))
    .unwrap();
    save_test_steps(&mut conn, run, 1, &[step]).await.unwrap();
    let steps = test_steps(&mut conn, run, 1).await.unwrap();
    assert_eq!(
        steps[0].inline.as_ref().unwrap().description.as_deref(),
        Some("do")
    );
    let att = AttachmentRef {
        id: 9,
        name: Some("a\u{0}.txt".into()),
    };
    save_attachments(&mut conn, run, "test_case", 1, &[att])
        .await
        .unwrap();
    assert_eq!(
        attachment(&mut conn, run, 9).await.unwrap().unwrap().name,
        "a.txt"
    );
}

#[tokio::test]
async fn text_that_only_looks_like_an_escaped_nul_is_kept() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    crate::migrate(&pool).await.unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let run = crate::runs::upsert(
        &mut conn,
        "http://z",
        "P",
        "http://q",
        1,
        &serde_json::json!({}),
    )
    .await
    .unwrap()
    .id;
    let cases = [case(1, r"C:\u0000\dir"), case(2, r"a\\u0000b")];
    save_test_cases(&mut conn, run, &cases).await.unwrap();
    assert_eq!(
        test_case(&mut conn, run, 1).await.unwrap().unwrap().name,
        r"C:\u0000\dir"
    );
    assert_eq!(
        test_case(&mut conn, run, 2).await.unwrap().unwrap().name,
        r"a\\u0000b"
    );
}
