//! Test cases and their steps.

use crate::{TransformError, clean, non_empty};
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
    let inline = step.inline.as_ref()?;
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
    Some(qtest::TestStep {
        description: text,
        expected: expected.unwrap_or_default(),
        ..Default::default()
    })
}

/// A test case with its steps as one create body.
pub fn test_case(
    case: &zephyr::TestCase,
    steps: &[zephyr::TestStep],
    ctx: TestCaseContext,
) -> Result<TestCaseOut, TransformError> {
    let name = clean(&case.name);
    if name.is_empty() {
        return Err(TransformError::Missing("test case name"));
    }
    let key = clean(&case.key);
    if key.is_empty() {
        return Err(TransformError::Missing("test case key"));
    }
    let mut body_steps = Vec::new();
    let mut step_map = Vec::with_capacity(steps.len());
    for step in steps {
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
            description: non_empty(case.objective.as_deref()),
            precondition: non_empty(case.precondition.as_deref()),
            properties: vec![qtest::Property::new(ctx.zephyr_key_field_id, key)],
            test_steps: Some(body_steps),
            ..Default::default()
        },
        step_map,
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
