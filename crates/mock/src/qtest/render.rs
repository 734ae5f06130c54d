//! Turns stored records into the Swagger's response resources (names of fields and values,
//! 1-based orders, `pid`s, dates, `web_url`s).
//!
//! The resources of test cases, runs and logs borrow the store's text (see `wire`); the rest
//! copy it with `String::from`, not `to_string` (which goes through the formatter for
//! `Box<str>`).

use super::fields::StatusDef;
use super::state::{AttachmentRec, CaseRec, CycleRec, LogRec, ModuleRec, PropVal, RunRec, Store};
use super::wire::{
    AttachmentOut, AuthorOut, CaseOut, CycleOut, LogOut, ModuleOut, PropertyOut, RunCaseOut,
    RunOut, StepLogOut, StepOut,
};
use std::borrow::Cow;

/// Where the UI links of the mock point (never contacted).
const WEB_BASE: &str = "https://mock.qtestnet.com";

/// An ISO-8601 date-time with an explicit zone, as qTest writes them.
pub(crate) fn date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
}

/// Renders records of one project.
pub(crate) struct Render<'a> {
    pub store: &'a Store,
    pub project: i64,
    pub username: &'a str,
}

impl<'a> Render<'a> {
    fn web_url(&self, tab: &str, object: u8, id: i64) -> String {
        format!(
            "{WEB_BASE}/p/{}/portal/project#tab={tab}&object={object}&id={id}",
            self.project
        )
    }

    fn props(&self, object_type: &str, props: &'a [PropVal]) -> Vec<PropertyOut<'a>> {
        let store: &'a Store = self.store;
        props
            .iter()
            .map(|p| {
                let field = store.field(object_type, p.field);
                PropertyOut {
                    field_id: p.field,
                    field_name: field.map_or("", |f| f.label.as_str()),
                    field_value: &p.value,
                    // An unconstrained field's display value is its value.
                    field_value_name: match field {
                        Some(f) if f.constrained => Cow::Owned(f.value_name(&p.value)),
                        _ => Cow::Borrowed(&p.value),
                    },
                }
            })
            .collect()
    }

    pub fn module(&self, m: &ModuleRec, descendants: bool) -> ModuleOut {
        let children = descendants.then(|| {
            m.children
                .iter()
                .filter_map(|c| self.store.modules.get(c))
                .map(|c| self.module(c, true))
                .collect()
        });
        ModuleOut {
            id: m.id,
            pid: format!("MD-{}", m.pid_no),
            name: String::from(&*m.name),
            order: i64::from(m.order),
            parent_id: m.parent,
            description: m.description.as_deref().map(str::to_string),
            created_date: date(m.created),
            last_modified_date: date(m.created),
            children,
        }
    }

    pub fn case(&self, c: &'a CaseRec, steps: bool, props: bool) -> CaseOut<'a> {
        let test_steps = steps.then(|| {
            c.steps
                .iter()
                .enumerate()
                .map(|(i, s)| StepOut {
                    id: s.id,
                    description: &s.description,
                    expected: &s.expected,
                    order: i as i64 + 1,
                    called_test_case_id: s.called,
                })
                .collect()
        });
        let created = date(c.created);
        CaseOut {
            id: c.id,
            pid: format!("TC-{}", c.pid_no),
            name: &c.name,
            order: i64::from(c.order),
            parent_id: c.module,
            description: c.description.as_deref(),
            precondition: c.precondition.as_deref(),
            version: "0.1",
            test_case_version_id: c.version_id,
            last_modified_date: created.clone(),
            created_date: created,
            properties: if props {
                self.props("test-cases", &c.props)
            } else {
                Vec::new()
            },
            test_steps,
            web_url: self.web_url("testdesign", 1, c.id),
        }
    }

    pub fn cycle(&self, c: &CycleRec, descendants: bool) -> CycleOut {
        let test_cycles = descendants.then(|| {
            c.children
                .iter()
                .filter_map(|x| self.store.cycles.get(x))
                .map(|x| self.cycle(x, true))
                .collect()
        });
        CycleOut {
            id: c.id,
            pid: format!("CL-{}", c.pid_no),
            name: String::from(&*c.name),
            order: i64::from(c.order),
            description: c.description.as_deref().map(str::to_string),
            target_release_id: c.target_release_id,
            created_date: date(c.created),
            last_modified_date: date(c.created),
            web_url: self.web_url("testexecution", 2, c.id),
            test_cycles,
        }
    }

    pub fn run(&self, r: &'a RunRec) -> RunOut<'a> {
        let store: &'a Store = self.store;
        let case = store.cases.get(&r.case);
        let created = date(r.created);
        RunOut {
            id: r.id,
            pid: format!("TR-{}", r.pid_no),
            name: &r.name,
            order: i64::from(r.order),
            last_modified_date: created.clone(),
            created_date: created,
            properties: self.props("test-runs", &r.props),
            test_case: RunCaseOut {
                id: r.case,
                pid: case.map(|c| format!("TC-{}", c.pid_no)).unwrap_or_default(),
                name: case.map_or("", |c| &*c.name),
                properties: Vec::new(),
            },
            test_case_id: r.case,
            test_case_version_id: r.version_id,
            test_case_version: "0.1",
            parent_id: r.parent.id(),
            parent_type: r.parent.type_str(),
            web_url: self.web_url("testexecution", 3, r.id),
        }
    }

    fn status(&self, id: i64) -> Cow<'a, StatusDef> {
        let store: &'a Store = self.store;
        match store.status(id) {
            Some(s) => Cow::Borrowed(s),
            None => Cow::Owned(StatusDef {
                id,
                name: String::new(),
                is_default: false,
                color: String::new(),
                active: false,
            }),
        }
    }

    pub fn log(&self, l: &'a LogRec) -> LogOut<'a> {
        let store: &'a Store = self.store;
        let case = store
            .runs
            .get(&l.run)
            .and_then(|r| store.cases.get(&r.case));
        let test_step_logs = l
            .step_logs
            .iter()
            .map(|sl| {
                let step = case.and_then(|c| c.steps.iter().find(|s| s.id == sl.step));
                StepLogOut {
                    test_step_log_id: sl.id,
                    test_step_id: sl.step,
                    status: self.status(sl.status),
                    description: step.map_or("", |s| &*s.description),
                    expected_result: step.map_or("", |s| &*s.expected),
                    actual_result: sl.actual.as_deref(),
                    order: sl.order,
                }
            })
            .collect();
        LogOut {
            id: l.id,
            test_run_id: l.run,
            test_case_version_id: l.version_id,
            status: self.status(l.status),
            exe_start_date: &l.start,
            exe_end_date: &l.end,
            note: l.note.as_deref(),
            properties: self.props("test-runs", &l.props),
            test_step_logs,
        }
    }

    pub fn attachment(&self, a: &AttachmentRec, owner: i64) -> AttachmentOut {
        AttachmentOut {
            id: a.id,
            name: String::from(&*a.name),
            content_type: String::from(&*a.content_type),
            web_url: format!("{WEB_BASE}/p/{}/portal/attachment/{}", self.project, a.id),
            created_date: date(a.created),
            author: AuthorOut {
                id: 1,
                email: self.username.to_string(),
                first_name: "Mock",
                last_name: "Admin",
            },
            artifact_id: owner,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::state::{Parent, QtestMockConfig, QtestState};
    use super::super::wire::{CaseIn, FieldIn, LogIn, RunIn};
    use super::*;
    use serde_json::{Value, json};

    fn body<T: serde::de::DeserializeOwned>(v: Value) -> T {
        serde_json::from_value(v).unwrap()
    }

    /// The borrowed resources serialise to exactly the Swagger shapes, text and all.
    #[test]
    fn logs_and_runs_render_their_stored_text() {
        let state = QtestState::new(QtestMockConfig::default());
        let mut store = state.write();
        let key = store
            .create_field(
                "test-runs",
                body::<FieldIn>(json!({"label": "Zephyr Key", "data_type": 1})),
            )
            .unwrap()
            .id;
        let module = store.create_module(None, Some("M".into()), None).unwrap();
        let case = store
            .create_case(body::<CaseIn>(json!({
                "name": "Pay", "parent_id": module, "properties": [],
                "test_steps": [{"description": "do \"it\"", "expected": "done"},
                               {"description": "undo", "expected": "undone"}]
            })))
            .unwrap();
        let steps: Vec<i64> = store.cases[&case].steps.iter().map(|s| s.id).collect();
        let run = store
            .create_run(
                Parent::Root,
                body::<RunIn>(json!({"test_case": {"id": case}, "properties": []})),
            )
            .unwrap();
        let log = store
            .create_log(
                run,
                body::<LogIn>(json!({
                    "status": {"id": 602}, "note": "n",
                    "exe_start_date": "2024-01-01T00:00:00Z",
                    "exe_end_date": "2024-01-01T00:01:00Z",
                    "properties": [{"field_id": key, "field_value": "P-E1"}],
                    "test_step_logs": [{"test_step_id": steps[1], "status": {"id": 601},
                                        "actual_result": "ok"}]
                })),
            )
            .unwrap();
        drop(store);
        let store = state.read();
        let r = Render {
            store: &store,
            project: 1,
            username: "u",
        };
        let l = &store.logs[&log];
        let out = serde_json::to_value(r.log(l)).unwrap();
        let failed = json!({"id": 602, "name": "Failed", "is_default": false,
                            "color": "#e5403b", "active": true});
        let passed = serde_json::to_value(store.status(601).unwrap()).unwrap();
        assert_eq!(
            out,
            json!({
                "id": log, "test_run_id": run, "test_case_version_id": l.version_id,
                "status": failed,
                "exe_start_date": "2024-01-01T00:00:00Z", "exe_end_date": "2024-01-01T00:01:00Z",
                "note": "n",
                "properties": [{"field_id": key, "field_name": "Zephyr Key",
                                "field_value": "P-E1", "field_value_name": "P-E1"}],
                "test_step_logs": [{"test_step_log_id": l.step_logs[0].id,
                                    "test_step_id": steps[1], "status": passed,
                                    "description": "undo", "expected_result": "undone",
                                    "actual_result": "ok", "order": 2}]
            })
        );
        let run_out = serde_json::to_value(r.run(&store.runs[&run])).unwrap();
        assert_eq!(run_out["name"], "Pay");
        assert_eq!(run_out["test_case"]["name"], "Pay");
        assert_eq!(run_out["created_date"], run_out["last_modified_date"]);
        // The run's Status (a single choice) shows its label as display value.
        let status = run_out["properties"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["field_name"] == "Status")
            .cloned()
            .unwrap();
        assert_eq!(status["field_value_name"], "Failed");
        assert_ne!(status["field_value"], "Failed");
        let case_out = serde_json::to_string(&r.case(&store.cases[&case], true, true)).unwrap();
        assert!(case_out.contains(r#""description":"do \"it\"","expected":"done""#));
    }
}
