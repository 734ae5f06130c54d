//! Test cases: steps and attachment list read from Zephyr, one create with inline steps, and
//! the "Zephyr Key" field as the marker a retry searches for.

use super::{Details, Job, Outcome, created_id};
use crate::batch::Source;
use crate::failure::{Failure, source};
use serde_json::json;
use ztoq_model::RecordKind;
use ztoq_model::qtest::{SearchParams, TestCase};
use ztoq_model::settings::ZEPHYR_KEY_FIELD;
use ztoq_qtest::quote_query_value;
use ztoq_transform::TestCaseContext;

/// A test case → a qTest test case in its folder's module.
pub async fn migrate(job: &Job<'_>) -> Result<Outcome, Failure> {
    let Source::TestCase(case) = job.source else {
        return Err(job.missing("the test case"));
    };
    let module_id = match case.folder {
        Some(_) => Some(job.parent_qtest_id(RecordKind::Folder)?),
        None => None,
    };
    // Both reads at once: one round trip of latency per record instead of two.
    let zephyr = &job.run.zephyr;
    let (steps, attachments) = tokio::try_join!(
        zephyr.test_steps(&case.key),
        zephyr.test_case_attachments(&case.key)
    )
    .map_err(|e| job.named(e))?;
    let ctx = TestCaseContext {
        module_id,
        zephyr_key_field_id: job.run.settings.test_case_key_field_id,
    };
    let out = ztoq_transform::test_case(case, &steps, ctx)?;
    for note in &out.notes {
        tracing::warn!(record = %case.key, "source item degraded: {note}");
    }

    let mut adopted = None;
    if job.maybe_applied {
        let params = SearchParams {
            object_type: "test-cases".into(),
            fields: Some(vec!["*".into()]),
            query: Some(format!(
                "'{ZEPHYR_KEY_FIELD}' = {}",
                quote_query_value(&case.key)
            )),
        };
        let found = job.run.qtest.search::<TestCase>(&params, 1, 10).await?;
        if let Some(id) = found.items.iter().find_map(|c| c.id) {
            adopted = Some(job.run.qtest.test_case(id).await?);
        }
    }
    let was_adopted = adopted.is_some();
    let saved = match adopted {
        Some(existing) => existing,
        None => job.run.qtest.create_test_case(&out.body).await?,
    };
    let id = created_id(saved.id, "test case")?;
    let saved_steps = saved.test_steps.clone().unwrap_or_default();
    let step_ids: Vec<Option<i64>> = out
        .step_map
        .iter()
        .map(|slot| slot.and_then(|i| saved_steps.get(i)).and_then(|s| s.id))
        .collect();
    if step_ids.iter().flatten().count() != out.step_map.iter().flatten().count() {
        return Err(source(format!(
            "test case {}: qTest holds {} steps for it, {} were sent",
            case.key,
            saved_steps.len(),
            out.step_map.iter().flatten().count()
        )));
    }
    Ok(Outcome {
        qtest_id: id,
        qtest_data: Some(json!({
            "version_id": saved.test_case_version_id,
            "step_ids": step_ids,
            // For the test run of each of its (cycle, case) pairs, named after the case.
            "name": case.name,
        })),
        details: Details::TestCase { steps, attachments },
        adopted: was_adopted,
    })
}
