//! The validated writes of the mock store: one `create_*` per object kind. Each checks
//! everything first (parent exists, required fields, field ids and choice values, step ids of
//! step logs) and mutates after, so a rejected request leaves the store unchanged.

use super::error::{MockError, MockResult};
use super::fields::{FIELD_OBJECT_TYPES, FieldDef, UNEXECUTED};
use super::state::{
    CaseRec, CycleRec, Kind, LogRec, ModuleRec, Parent, PropVal, RunRec, StepLogRec, StepRec,
    Store, Target, boxed, len_u32, now_ms, required_text,
};

impl Store {
    pub fn create_field(
        &mut self,
        object_type: &str,
        body: super::wire::FieldIn,
    ) -> MockResult<FieldDef> {
        if !FIELD_OBJECT_TYPES.contains(&object_type) || object_type == "test-steps" {
            return Err(MockError::bad_request(format!(
                "Cannot create fields for object type '{object_type}'"
            )));
        }
        let label = required_text(body.label, "label")?;
        let data_type = body
            .data_type
            .ok_or_else(|| MockError::bad_request("data_type is required"))?;
        let attribute_type = super::fields::attribute_type_of(data_type)
            .ok_or_else(|| MockError::bad_request(format!("Invalid data_type {data_type}")))?;
        let existing = self.fields_of(object_type)?;
        if existing
            .iter()
            .any(|f| f.label.eq_ignore_ascii_case(&label))
        {
            return Err(MockError::bad_request(format!(
                "Field label '{label}' already exists"
            )));
        }
        let multiple = body.multiple.unwrap_or(false);
        if matches!(data_type, 8 | 17) && !multiple {
            return Err(MockError::bad_request(
                "data_type 8 and 17 need multiple=true",
            ));
        }
        let order = existing.len() as i64 + 1;
        let mut next_value = existing
            .iter()
            .flat_map(|f| f.allowed_values.iter().map(|a| a.value))
            .max()
            .unwrap_or(700)
            + 1;
        let mut allowed = Vec::new();
        for (i, a) in body
            .allowed_values
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let value_label = required_text(a.label, "allowed_values[].label")?;
            let value = a.value.unwrap_or_else(|| {
                next_value += 1;
                next_value - 1
            });
            allowed.push(super::fields::AllowedValueDef {
                value,
                label: value_label.into(),
                order: i as i64 + 1,
                is_default: a.is_default.unwrap_or(false),
                is_active: a.is_active.unwrap_or(true),
                color: None,
            });
        }
        let id = self.alloc();
        let field = FieldDef {
            id,
            label: label.to_string(),
            attribute_type: attribute_type.to_string(),
            required: body.required.unwrap_or(false),
            constrained: matches!(data_type, 3 | 8 | 17),
            order,
            multiple,
            data_type,
            searchable: body.searchable.unwrap_or(true),
            free_text_search: matches!(data_type, 1 | 2 | 6),
            system_field: false,
            original_name: label.to_string(),
            is_active: true,
            allowed_values: allowed,
        };
        if let Some((_, list)) = self.fields.iter_mut().find(|(t, _)| *t == object_type) {
            list.push(field.clone());
        }
        Ok(field)
    }

    pub fn create_module(
        &mut self,
        parent: Option<i64>,
        name: Option<String>,
        description: Option<String>,
    ) -> MockResult<i64> {
        let name = required_text(name, "name")?;
        if let Some(p) = parent
            && !self.modules.contains_key(&p)
        {
            return Err(MockError::not_found(format!(
                "Parent module {p} does not exist"
            )));
        }
        Ok(self.insert_module(parent, name, boxed(description)))
    }

    fn insert_module(
        &mut self,
        parent: Option<i64>,
        name: Box<str>,
        description: Option<Box<str>>,
    ) -> i64 {
        let id = self.alloc();
        self.module_count += 1;
        let siblings = match parent.and_then(|p| self.modules.get_mut(&p)) {
            Some(m) => &mut m.children,
            None => &mut self.root_modules,
        };
        siblings.push(id);
        let order = len_u32(siblings.len());
        let rec = ModuleRec {
            id,
            pid_no: self.module_count,
            name,
            description,
            parent,
            order,
            created: now_ms(),
            children: Vec::new(),
            cases: Vec::new(),
        };
        self.modules.insert(id, rec);
        id
    }

    pub fn create_case(&mut self, body: super::wire::CaseIn) -> MockResult<i64> {
        let name = required_text(body.name, "name")?;
        if let Some(m) = body.parent_id
            && !self.modules.contains_key(&m)
        {
            return Err(MockError::not_found(format!("Module {m} does not exist")));
        }
        let props = body
            .properties
            .ok_or_else(|| MockError::bad_request("properties is required"))?;
        let props = self.check_props("test-cases", props)?;
        let mut steps_in = Vec::new();
        for (i, s) in body.test_steps.unwrap_or_default().into_iter().enumerate() {
            let n = i + 1;
            let description =
                required_text(s.description, &format!("test_steps[{n}].description"))?;
            let expected = s.expected.ok_or_else(|| {
                MockError::bad_request(format!("test_steps[{n}].expected is required"))
            })?;
            if let Some(c) = s.called_test_case_id
                && !self.cases.contains_key(&c)
            {
                return Err(MockError::not_found(format!(
                    "Called test case {c} does not exist"
                )));
            }
            steps_in.push((
                description,
                expected.into_boxed_str(),
                s.called_test_case_id,
            ));
        }
        let files = self.decode_inline(body.attachments)?;
        let module = match body.parent_id {
            Some(m) => m,
            None => match self.api_module {
                Some(m) => m,
                None => {
                    let m = self.insert_module(None, "Created via API".into(), None);
                    self.api_module = Some(m);
                    m
                }
            },
        };
        let id = self.alloc();
        let version_id = self.alloc();
        let mut steps = Vec::with_capacity(steps_in.len());
        for (description, expected, called) in steps_in {
            let step_id = self.alloc();
            self.step_case.insert(step_id, id);
            steps.push(StepRec {
                id: step_id,
                description,
                expected,
                called,
            });
        }
        let order = match self.modules.get_mut(&module) {
            Some(m) => {
                m.cases.push(id);
                len_u32(m.cases.len())
            }
            None => 1,
        };
        self.case_ids.push(id);
        self.case_count += 1;
        self.index_add(Kind::Case, id, &name, &props);
        self.store_attachments(Target::Case, id, files);
        let rec = CaseRec {
            id,
            pid_no: self.case_count,
            name,
            module,
            order,
            description: boxed(body.description),
            precondition: boxed(body.precondition),
            props,
            steps,
            version_id,
            created: now_ms(),
        };
        self.cases.insert(id, rec);
        Ok(id)
    }

    /// 404 unless the container exists. The mock holds no releases or test suites.
    fn check_parent(&self, parent: Parent) -> MockResult<()> {
        match parent {
            Parent::Root => Ok(()),
            Parent::Cycle(id) if self.cycles.contains_key(&id) => Ok(()),
            Parent::Cycle(id) => Err(MockError::not_found(format!(
                "Test cycle {id} does not exist"
            ))),
            Parent::Release(id) => {
                Err(MockError::not_found(format!("Release {id} does not exist")))
            }
            Parent::Suite(id) => Err(MockError::not_found(format!(
                "Test suite {id} does not exist"
            ))),
        }
    }

    pub fn create_cycle(&mut self, parent: Parent, body: super::wire::CycleIn) -> MockResult<i64> {
        if matches!(parent, Parent::Suite(_)) {
            return Err(MockError::bad_request(
                "A test cycle cannot be created under a test suite",
            ));
        }
        self.check_parent(parent)?;
        let name = required_text(body.name, "name")?;
        let id = self.alloc();
        let siblings = match parent {
            Parent::Cycle(p) => match self.cycles.get_mut(&p) {
                Some(c) => &mut c.children,
                None => &mut self.root_cycles,
            },
            _ => &mut self.root_cycles,
        };
        siblings.push(id);
        let order = len_u32(siblings.len());
        self.cycle_ids.push(id);
        self.cycle_count += 1;
        self.index_add(Kind::Cycle, id, &name, &[]);
        let rec = CycleRec {
            id,
            pid_no: self.cycle_count,
            name,
            parent: match parent {
                Parent::Cycle(p) => Some(p),
                _ => None,
            },
            description: boxed(body.description),
            target_release_id: body.target_release_id,
            order,
            created: now_ms(),
            children: Vec::new(),
        };
        self.cycles.insert(id, rec);
        Ok(id)
    }

    pub fn create_run(&mut self, parent: Parent, body: super::wire::RunIn) -> MockResult<i64> {
        self.check_parent(parent)?;
        let case_id = body
            .test_case
            .and_then(|c| c.id)
            .ok_or_else(|| MockError::bad_request("test_case.id is required"))?;
        let case = self
            .cases
            .get(&case_id)
            .ok_or_else(|| MockError::not_found(format!("Test case {case_id} does not exist")))?;
        if let Some(v) = body.test_case_version_id
            && v != case.version_id
        {
            return Err(MockError::bad_request(format!(
                "Test case version {v} does not belong to test case {case_id}"
            )));
        }
        let version_id = case.version_id;
        let name = match body.name {
            Some(n) if !n.trim().is_empty() => n.into_boxed_str(),
            _ => case.name.clone(),
        };
        let props = body
            .properties
            .ok_or_else(|| MockError::bad_request("properties is required"))?;
        let mut props = self.check_props("test-runs", props)?;
        if let Some(status_field) = self.run_status_field
            && !props.iter().any(|p| p.field == status_field)
        {
            props.push(PropVal {
                field: status_field,
                value: UNEXECUTED.to_string().into_boxed_str(),
            });
        }
        let id = self.alloc();
        let siblings = self.runs_by_parent.entry(parent).or_default();
        siblings.push(id);
        let order = len_u32(siblings.len());
        self.run_ids.push(id);
        self.run_count += 1;
        self.runs_by_case.entry(case_id).or_default().push(id);
        self.index_add(Kind::Run, id, &name, &props);
        let rec = RunRec {
            id,
            pid_no: self.run_count,
            name,
            case: case_id,
            version_id,
            parent,
            order,
            props,
            logs: Vec::new(),
            created: now_ms(),
        };
        self.runs.insert(id, rec);
        Ok(id)
    }

    pub fn create_log(&mut self, run_id: i64, body: super::wire::LogIn) -> MockResult<i64> {
        let run = self
            .runs
            .get(&run_id)
            .ok_or_else(|| MockError::not_found(format!("Test run {run_id} does not exist")))?;
        let case = self
            .cases
            .get(&run.case)
            .ok_or_else(|| MockError::not_found("Test case of the run does not exist"))?;
        let status = body
            .status
            .and_then(|s| s.id)
            .ok_or_else(|| MockError::bad_request("status.id is required"))?;
        if self.status(status).is_none() {
            return Err(MockError::bad_request(format!(
                "Invalid execution status {status}"
            )));
        }
        let start = check_date(body.exe_start_date, "exe_start_date")?;
        let end = check_date(body.exe_end_date, "exe_end_date")?;
        if let Some(v) = body.test_case_version_id
            && v != case.version_id
        {
            return Err(MockError::bad_request(format!(
                "Test case version {v} does not belong to test case {}",
                case.id
            )));
        }
        let version_id = case.version_id;
        let mut step_logs_in = Vec::new();
        for sl in body.test_step_logs.unwrap_or_default() {
            let step = sl.test_step_id.ok_or_else(|| {
                MockError::bad_request("test_step_logs[].test_step_id is required")
            })?;
            let Some(pos) = case.steps.iter().position(|s| s.id == step) else {
                return Err(MockError::bad_request(format!(
                    "Test step {step} is not a step of test case {}",
                    case.id
                )));
            };
            let step_status = sl.status.and_then(|s| s.id).unwrap_or(UNEXECUTED);
            if self.status(step_status).is_none() {
                return Err(MockError::bad_request(format!(
                    "Invalid execution status {step_status} in step log"
                )));
            }
            let order = sl.order.unwrap_or(i64::try_from(pos).unwrap_or(0) + 1);
            step_logs_in.push((step, step_status, boxed(sl.actual_result), order));
        }
        let props = self.check_props("test-runs", body.properties.unwrap_or_default())?;
        let files = self.decode_inline(body.attachments)?;
        let id = self.alloc();
        let mut step_logs = Vec::with_capacity(step_logs_in.len());
        for (step, status, actual, order) in step_logs_in {
            let sl_id = self.alloc();
            self.step_log_owner.insert(sl_id, id);
            step_logs.push(StepLogRec {
                id: sl_id,
                step,
                status,
                actual,
                order,
            });
        }
        self.store_attachments(Target::Log, id, files);
        self.set_run_status(run_id, status);
        if let Some(run) = self.runs.get_mut(&run_id) {
            run.logs.push(id);
        }
        let rec = LogRec {
            id,
            run: run_id,
            status,
            start,
            end,
            note: boxed(body.note),
            version_id,
            props,
            step_logs,
        };
        self.logs.insert(id, rec);
        Ok(id)
    }

    /// A new log sets its run's Status property (not indexed: see `Store::indexed`).
    fn set_run_status(&mut self, run_id: i64, status: i64) {
        let Some(field) = self.run_status_field else {
            return;
        };
        let Some(run) = self.runs.get_mut(&run_id) else {
            return;
        };
        let value = status.to_string().into_boxed_str();
        match run.props.iter_mut().find(|p| p.field == field) {
            Some(p) => p.value = value,
            None => run.props.push(PropVal { field, value }),
        }
    }
}

fn check_date(value: Option<String>, what: &str) -> MockResult<Box<str>> {
    let v = required_text(value, what)?;
    chrono::DateTime::parse_from_rfc3339(&v).map_err(|e| {
        MockError::bad_request(format!(
            "{what} '{v}' is not an ISO-8601 date-time with zone: {e}"
        ))
    })?;
    Ok(v)
}
