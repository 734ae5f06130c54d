//! Test cases and their steps.

use crate::{TransformError, clean, name_note, name_text, non_empty, rich_text, text_note};
use ztoq_model::{qtest, zephyr};

/// What a test case needs from the target besides its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestCaseContext {
    /// The module of its folder (`None` for a case in the root).
    pub module_id: Option<i64>,
    /// The "Zephyr Key" test-case field (the marker that finds the copy again).
    pub zephyr_key_field_id: i64,
}

/// A test case's request body, and where each source step went.
#[derive(Debug, Clone, PartialEq)]
pub struct TestCaseOut {
    /// The body to send.
    pub body: qtest::TestCase,
    /// For each source step (by index), its index among the body's steps, or `None` when the
    /// step was dropped (an empty step, as Zephyr adds to every new case).
    pub step_map: Vec<Option<usize>>,
    /// Degradations: fields cut to qTest's limits ([`test_case_notes`] plus the steps').
    pub notes: Vec<String>,
}

/// What [`test_case`] will cut from a case's own fields (its steps are read later).
pub fn test_case_notes(case: &zephyr::TestCase) -> Vec<String> {
    name_note("name", &case.name)
        .into_iter()
        .chain(text_note("objective", case.objective.as_deref()))
        .chain(text_note("precondition", case.precondition.as_deref()))
        .collect()
}

/// An inline step's text before any cut: the description (with its test data appended) and
/// the expected result; `None` for an empty step.
fn step_text(inline: &zephyr::InlineStep) -> Option<(String, Option<String>)> {
    let description = non_empty(inline.description.as_deref());
    let data = non_empty(inline.test_data.as_deref());
    let expected = non_empty(inline.expected_result.as_deref());
    if description.is_none() && data.is_none() && expected.is_none() {
        return None;
    }
    let mut text = description.unwrap_or_default();
    if let Some(data) = data {
        if !text.is_empty() {
            text.push_str("<br>");
        }
        text.push_str("<strong>Test data:</strong> ");
        text.push_str(&data);
    }
    Some((text, expected))
}

/// What [`test_step`] will cut from step `index` (1-based in the notes).
fn step_notes(index: usize, step: &zephyr::TestStep) -> Vec<String> {
    let Some((text, expected)) = step.inline.as_ref().and_then(step_text) else {
        return Vec::new();
    };
    text_note(&format!("step {index} description"), Some(&text))
        .into_iter()
        .chain(text_note(
            &format!("step {index} expected result"),
            expected.as_deref(),
        ))
        .collect()
}

/// One source step as a qTest step, or `None` for an empty inline step.
pub fn test_step(step: &zephyr::TestStep) -> Option<qtest::TestStep> {
    if let Some(call) = &step.test_case {
        // Call-to-test is degraded to a text step until called cases are linked.
        return Some(qtest::TestStep {
            description: format!("Call to test {}", clean(&call.test_case_key)),
            expected: String::new(),
            ..Default::default()
        });
    }
    let (text, expected) = step_text(step.inline.as_ref()?)?;
    Some(qtest::TestStep {
        description: rich_text(Some(&text)).unwrap_or_default(),
        expected: rich_text(expected.as_deref()).unwrap_or_default(),
        ..Default::default()
    })
}

/// A test case with its steps as one create body.
pub fn test_case(
    case: &zephyr::TestCase,
    steps: &[zephyr::TestStep],
    ctx: TestCaseContext,
) -> Result<TestCaseOut, TransformError> {
    let name = name_text(&case.name);
    if name.is_empty() {
        return Err(TransformError::Missing("test case name"));
    }
    let key = clean(&case.key);
    if key.is_empty() {
        return Err(TransformError::Missing("test case key"));
    }
    let mut body_steps = Vec::new();
    let mut step_map = Vec::with_capacity(steps.len());
    let mut notes = test_case_notes(case);
    for (i, step) in steps.iter().enumerate() {
        notes.extend(step_notes(i + 1, step));
        match test_step(step) {
            Some(mut s) => {
                s.order = Some(body_steps.len() as i64 + 1);
                step_map.push(Some(body_steps.len()));
                body_steps.push(s);
            }
            None => step_map.push(None),
        }
    }
    Ok(TestCaseOut {
        body: qtest::TestCase {
            name: Some(name),
            parent_id: ctx.module_id,
            description: rich_text(case.objective.as_deref()),
            precondition: rich_text(case.precondition.as_deref()),
            properties: vec![qtest::Property::new(ctx.zephyr_key_field_id, key)],
            test_steps: Some(body_steps),
            ..Default::default()
        },
        step_map,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ztoq_model::zephyr::{CallToTest, InlineStep, Ref, TestStep};

    fn case() -> zephyr::TestCase {
        serde_json::from_value(serde_json::json!({
            "id": 7, "key": "P-T1", "name": " Pay ", "project": {"id": 1},
            "priority": {"id": 2}, "status": {"id": 3},
            "objective": "<p>obj</p>", "precondition": null
        }))
        .unwrap()
    }

    fn inline(d: Option<&str>, t: Option<&str>, e: Option<&str>) -> TestStep {
        TestStep {
            id: None,
            inline: Some(InlineStep {
                description: d.map(Into::into),
                test_data: t.map(Into::into),
                expected_result: e.map(Into::into),
                ..Default::default()
            }),
            test_case: None,
        }
    }

    #[test]
    fn maps_fields_and_marker() {
        let ctx = TestCaseContext {
            module_id: Some(5),
            zephyr_key_field_id: 99,
        };
        let out = test_case(&case(), &[], ctx).unwrap();
        assert_eq!(out.body.name.as_deref(), Some("Pay"));
        assert_eq!(out.body.parent_id, Some(5));
        assert_eq!(out.body.description.as_deref(), Some("<p>obj</p>"));
        assert_eq!(out.body.precondition, None);
        assert_eq!(out.body.properties, vec![qtest::Property::new(99, "P-T1")]);
        assert_eq!(out.body.test_steps, Some(vec![]));
    }

    #[test]
    fn drops_empty_steps_and_keeps_the_index_map() {
        let steps = vec![
            inline(None, None, None),
            inline(Some("open"), None, Some("opened")),
            inline(Some("type"), Some("abc"), None),
            TestStep {
                id: None,
                inline: None,
                test_case: Some(CallToTest {
                    test_case_key: "P-T9".into(),
                    self_url: None,
                    parameters: None,
                }),
            },
        ];
        let ctx = TestCaseContext {
            module_id: None,
            zephyr_key_field_id: 1,
        };
        let out = test_case(&case(), &steps, ctx).unwrap();
        let body = out.body.test_steps.unwrap();
        assert_eq!(out.step_map, vec![None, Some(0), Some(1), Some(2)]);
        assert_eq!(body[0].description, "open");
        assert_eq!(body[0].expected, "opened");
        assert_eq!(body[0].order, Some(1));
        assert_eq!(
            body[1].description,
            "type<br><strong>Test data:</strong> abc"
        );
        assert_eq!(body[1].expected, "");
        assert_eq!(body[2].description, "Call to test P-T9");
        let _ = Ref {
            id: 1,
            self_url: None,
        };
    }

    #[test]
    fn html_is_kept_and_megabytes_are_cut_with_notes() {
        let mut c = case();
        c.name = "<script>alert(1)</script> \u{200F}שלום 👩‍💻 e\u{301}".into();
        c.objective = Some(format!("<p>{}</p>", "é".repeat(1_500_000)));
        let big = inline(Some(&"<b>x</b>".repeat(400_000)), None, Some("<i>ok</i>"));
        let ctx = TestCaseContext {
            module_id: None,
            zephyr_key_field_id: 1,
        };
        let out = test_case(&c, &[inline(None, None, None), big], ctx).unwrap();
        assert_eq!(out.body.name.as_deref(), Some(c.name.as_str()), "verbatim");
        let description = out.body.description.unwrap();
        assert!(description.len() <= crate::MAX_TEXT_BYTES);
        assert!(description.ends_with("bytes]</p>"));
        let steps = out.body.test_steps.unwrap();
        assert!(steps[0].description.len() <= crate::MAX_TEXT_BYTES);
        assert_eq!(steps[0].expected, "<i>ok</i>");
        assert_eq!(
            out.notes,
            vec![
                "objective cut from 3000007 to 1048576 bytes".to_string(),
                "step 2 description cut from 3200000 to 1048576 bytes".to_string()
            ]
        );
    }

    #[test]
    fn refuses_a_nameless_case() {
        let mut c = case();
        c.name = "\u{0} ".into();
        let ctx = TestCaseContext {
            module_id: None,
            zephyr_key_field_id: 1,
        };
        assert_eq!(
            test_case(&c, &[], ctx),
            Err(TransformError::Missing("test case name"))
        );
    }
}
