//! The client against the mock's hostile mode, over real HTTP: lenient paging isolates each
//! bad item (by id, key or position), drops repeated items, removes NULs and replaces lone
//! surrogates (noting both), narrows an offset page whose body is not JSON down to the bad
//! position, and refuses an attachment over a size limit without reading it.

use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use ztoq_http::{ClientOptions, ErrorClass, Secret};
use ztoq_mock::zephyr::{HUGE_ATTACHMENT_BYTES, ZephyrMockConfig, ZephyrState, router};
use ztoq_zephyr::{PageItems, Pager, ZephyrClient};

const TOKEN: &str = "header.payload.signature";

async fn start() -> (Arc<ZephyrState>, ZephyrClient) {
    let state = ZephyrState::new(ZephyrMockConfig {
        seed: 3,
        scale: 600,
        project_key: "ACME".into(),
        token: TOKEN.into(),
        base_url: None,
    });
    state.set_hostile(true);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let app = router(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = ZephyrClient::new(
        &format!("{origin}/v2"),
        Secret::new(TOKEN),
        &ClientOptions::default(),
    )
    .unwrap();
    (state, client)
}

/// Every page of a list, read leniently, merged.
async fn lenient<T: serde::de::DeserializeOwned>(mut pager: Pager<T>) -> (PageItems<T>, u64) {
    let mut all = PageItems::default();
    while let Some(page) = pager.next_items().await.unwrap() {
        all.items.extend(page.items);
        all.bad.extend(page.bad);
        all.repeated.extend(page.repeated);
        all.notes.extend(page.notes);
    }
    (all, pager.pages_fetched())
}

fn assert_unique(ids: impl IntoIterator<Item = i64>) -> usize {
    let ids: Vec<i64> = ids.into_iter().collect();
    let set: std::collections::HashSet<i64> = ids.iter().copied().collect();
    assert_eq!(set.len(), ids.len(), "duplicates in {ids:?}");
    set.len()
}

#[tokio::test]
async fn bad_items_are_isolated_repeats_dropped_text_cleaned() {
    let (state, client) = start().await;
    let s = state.summary();
    let plan = state.hostile_plan();

    // Folders: repeats dropped, the NUL noted, the loop served as is.
    let (folders, _) = lenient(client.clone().with_page_size(4).folders("ACME")).await;
    let n = assert_unique(folders.items.iter().map(|f| f.id)) as u64;
    assert_eq!(
        n,
        s.test_case_folders + s.test_cycle_folders + s.test_plan_folders + plan.extra[0]
    );
    assert!(folders.bad.is_empty(), "{:?}", folders.bad);
    assert!(
        !folders.repeated.is_empty(),
        "pages after the first repeat items"
    );
    let unicode = folders
        .items
        .iter()
        .find(|f| f.id == plan.unicode_folder)
        .unwrap();
    assert_eq!(unicode.name, plan.unicode_folder_name.replace('\0', ""));
    assert!(
        folders
            .notes
            .iter()
            .any(|n| n.id == Some(plan.unicode_folder) && n.note.contains("NUL")),
        "{:?}",
        folders.notes
    );

    // Test cases: two bad items, each named; the rest decode, NULs and surrogates noted.
    let (cases, _) = lenient(client.clone().with_page_size(7).test_cases("ACME")).await;
    assert_unique(cases.items.iter().map(|c| c.id));
    assert_eq!(cases.items.len() as u64, s.test_cases + plan.extra[1] - 2);
    assert_eq!(cases.bad.len(), 2, "{:?}", cases.bad);
    let wrong = &cases.bad[0];
    assert_eq!(wrong.id, Some(plan.wrong_type_case.0));
    assert_eq!(wrong.key.as_deref(), Some(plan.wrong_type_case.1.as_str()));
    assert!(
        wrong.reason.contains("invalid type: map"),
        "{}",
        wrong.reason
    );
    assert!(
        wrong.position.contains("list_test_cases item"),
        "{}",
        wrong.position
    );
    let missing = &cases.bad[1];
    assert_eq!(missing.id, Some(plan.missing_fields_case));
    assert!(
        missing.reason.contains("missing field"),
        "{}",
        missing.reason
    );
    assert_eq!(missing.source_id(), plan.missing_fields_case);
    let uc = cases
        .items
        .iter()
        .find(|c| c.key == plan.unicode_case)
        .unwrap();
    assert!(!uc.name.contains('\0') && uc.name.contains("<script>"));
    assert!(uc.objective.as_deref().unwrap().contains('\u{FFFD}'));
    let notes: Vec<&str> = cases
        .notes
        .iter()
        .filter(|n| n.key.as_deref() == Some(plan.unicode_case.as_str()))
        .map(|n| n.note.as_str())
        .collect();
    assert_eq!(notes.len(), 2, "{notes:?}");
    let big = cases.items.iter().find(|c| c.key == plan.big_case).unwrap();
    assert!(big.objective.as_ref().unwrap().len() >= 3 * 1024 * 1024);

    // Test cycles: the item whose JSON is broken is isolated by narrowing, by position.
    let (cycles, pages) = lenient(client.clone().with_page_size(50).test_cycles("ACME")).await;
    assert_eq!(cycles.items.len() as u64, s.test_cycles);
    assert_eq!(cycles.bad.len(), 1, "{:?}", cycles.bad);
    let broken = &cycles.bad[0];
    assert_eq!(
        broken.position,
        format!("list_test_cycles item at startAt={}", plan.broken_cycle.0)
    );
    assert!(
        broken.reason.contains("not valid JSON"),
        "{}",
        broken.reason
    );
    assert!(broken.source_id() < 0, "a stable synthetic id");
    assert!(pages < 15, "narrowing is logarithmic: {pages} pages");
    let err = client
        .clone()
        .with_page_size(50)
        .test_cycles("ACME")
        .next_page()
        .await
        .unwrap_err();
    assert_eq!(
        err.class(),
        ErrorClass::Permanent,
        "strict paging fails: {err}"
    );

    // Executions: repeats dropped, none lost.
    let (executions, _) = lenient(client.clone().with_page_size(9).executions("ACME")).await;
    let n = assert_unique(executions.items.iter().map(|e| e.id)) as u64;
    assert_eq!(n, s.executions + plan.extra[3]);
    assert!(!executions.repeated.is_empty());
    assert!(executions.bad.is_empty());
}

#[tokio::test]
async fn details_of_hostile_items() {
    let (state, client) = start().await;
    let plan = state.hostile_plan();
    let steps = client.test_steps(&plan.unicode_case).await.unwrap();
    assert_eq!(steps.len(), 2);
    let d = steps[0]
        .inline
        .as_ref()
        .unwrap()
        .description
        .as_deref()
        .unwrap();
    assert!(!d.contains('\0') && d.contains("&lt;script&gt;"), "{d}");
    let refs = client
        .test_case_attachments(&plan.unicode_case)
        .await
        .unwrap();
    assert_eq!(refs[0].name.as_deref(), Some("notes.txt"));
    let results = client
        .execution_steps(&plan.unicode_execution)
        .await
        .unwrap();
    assert_eq!(results.len(), 2);
    let big = client.test_steps(&plan.big_case).await.unwrap();
    assert!(
        big[0]
            .inline
            .as_ref()
            .unwrap()
            .description
            .as_ref()
            .unwrap()
            .len()
            > 3_000_000
    );

    // The huge attachment is refused from its Content-Length, without reading it.
    let (id, _, size) = plan.huge_attachment;
    let started = Instant::now();
    let refused = client
        .download_test_case_attachment_within(&plan.big_case, id, 50 * 1024 * 1024)
        .await
        .unwrap()
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!((refused.bytes, refused.exact), (size, true));
    assert_eq!(size, HUGE_ATTACHMENT_BYTES);
    assert!(
        refused
            .to_string()
            .contains("62914560 bytes, over the limit of 52428800")
    );
    // Under a larger limit it comes whole.
    let whole = client
        .download_test_case_attachment_within(&plan.big_case, id, 100 * 1024 * 1024)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(whole.bytes.len() as u64, size);
}

#[tokio::test]
async fn an_attachment_without_length_is_cut_off_at_the_limit() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            let head =
                "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nTransfer-Encoding: chunked\r\n\r\n";
            let _ = socket.write_all(head.as_bytes()).await;
            let chunk = vec![1u8; 64 * 1024];
            // 4 MB in 64 KB chunks, unless the client hangs up first.
            for _ in 0..64 {
                let size = format!("{:x}\r\n", chunk.len());
                if socket.write_all(size.as_bytes()).await.is_err()
                    || socket.write_all(&chunk).await.is_err()
                    || socket.write_all(b"\r\n").await.is_err()
                {
                    return;
                }
            }
            let _ = socket.write_all(b"0\r\n\r\n").await;
        }
    });
    let c = ZephyrClient::new(
        &format!("http://{addr}/v2/"),
        Secret::new(TOKEN),
        &ClientOptions::default(),
    )
    .unwrap();
    let refused = c
        .download_execution_attachment_within("ACME-E1", 1, 1024 * 1024)
        .await
        .unwrap()
        .unwrap_err();
    assert!(!refused.exact);
    assert!(refused.bytes > 1024 * 1024 && refused.bytes <= 1024 * 1024 + 64 * 1024);
    assert!(
        refused.to_string() == "more than the limit of 1048576 bytes",
        "{refused}"
    );
}
