//! Turns stored records into the Swagger's response resources (names of fields and values,
//! 1-based orders, `pid`s, dates, `web_url`s).
//!
//! Stored text is `Box<str>`; it is copied with `String::from`, not `to_string` (which goes
//! through the formatter for `Box<str>`, and list answers copy a great deal of text).

use super::fields::StatusDef;
use super::state::{AttachmentRec, CaseRec, CycleRec, LogRec, ModuleRec, PropVal, RunRec, Store};
use super::wire::{
    AttachmentOut, AuthorOut, CaseOut, CycleOut, LogOut, ModuleOut, PropertyOut, RunCaseOut,
    RunOut, StepLogOut, StepOut,
};

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

impl Render<'_> {
    fn web_url(&self, tab: &str, object: u8, id: i64) -> String {
        format!(
            "{WEB_BASE}/p/{}/portal/project#tab={tab}&object={object}&id={id}",
            self.project
        )
    }

    fn props(&self, object_type: &str, props: &[PropVal]) -> Vec<PropertyOut> {
        props
            .iter()
            .map(|p| {
                let field = self.store.field(object_type, p.field);
                PropertyOut {
                    field_id: p.field,
                    field_name: field.map(|f| f.label.clone()).unwrap_or_default(),
                    field_value: String::from(&*p.value),
                    field_value_name: field
                        .map(|f| f.value_name(&p.value))
                        .unwrap_or_else(|| String::from(&*p.value)),
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

    pub fn case(&self, c: &CaseRec, steps: bool, props: bool) -> CaseOut {
        let test_steps = steps.then(|| {
            c.steps
                .iter()
                .enumerate()
                .map(|(i, s)| StepOut {
                    id: s.id,
                    description: String::from(&*s.description),
                    expected: String::from(&*s.expected),
                    order: i as i64 + 1,
                    called_test_case_id: s.called,
                })
                .collect()
        });
        CaseOut {
            id: c.id,
            pid: format!("TC-{}", c.pid_no),
            name: String::from(&*c.name),
            order: i64::from(c.order),
            parent_id: c.module,
            description: c.description.as_deref().map(str::to_string),
            precondition: c.precondition.as_deref().map(str::to_string),
            version: "0.1",
            test_case_version_id: c.version_id,
            created_date: date(c.created),
            last_modified_date: date(c.created),
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

    pub fn run(&self, r: &RunRec) -> RunOut {
        let case = self.store.cases.get(&r.case);
        RunOut {
            id: r.id,
            pid: format!("TR-{}", r.pid_no),
            name: String::from(&*r.name),
            order: i64::from(r.order),
            created_date: date(r.created),
            last_modified_date: date(r.created),
            properties: self.props("test-runs", &r.props),
            test_case: RunCaseOut {
                id: r.case,
                pid: case.map(|c| format!("TC-{}", c.pid_no)).unwrap_or_default(),
                name: case.map(|c| String::from(&*c.name)).unwrap_or_default(),
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

    fn status(&self, id: i64) -> StatusDef {
        self.store.status(id).cloned().unwrap_or(StatusDef {
            id,
            name: String::new(),
            is_default: false,
            color: String::new(),
            active: false,
        })
    }

    pub fn log(&self, l: &LogRec) -> LogOut {
        let case = self
            .store
            .runs
            .get(&l.run)
            .and_then(|r| self.store.cases.get(&r.case));
        let test_step_logs = l
            .step_logs
            .iter()
            .map(|sl| {
                let step = case.and_then(|c| c.steps.iter().find(|s| s.id == sl.step));
                StepLogOut {
                    test_step_log_id: sl.id,
                    test_step_id: sl.step,
                    status: self.status(sl.status),
                    description: step
                        .map(|s| String::from(&*s.description))
                        .unwrap_or_default(),
                    expected_result: step.map(|s| String::from(&*s.expected)).unwrap_or_default(),
                    actual_result: sl.actual.as_deref().map(str::to_string),
                    order: sl.order,
                }
            })
            .collect();
        LogOut {
            id: l.id,
            test_run_id: l.run,
            test_case_version_id: l.version_id,
            status: self.status(l.status),
            exe_start_date: String::from(&*l.start),
            exe_end_date: String::from(&*l.end),
            note: l.note.as_deref().map(str::to_string),
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
