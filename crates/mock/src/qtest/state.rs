//! The mock's in-memory store: compact records for modules, test cases (with steps), cycles,
//! runs, logs (with step logs) and attachment metadata, with the indexes the API needs —
//! children per parent, `pid` number → id, and a search index keyed by
//! (object kind, field, hash of value) so that Data Query equality lookups are O(1).
//!
//! Invariant: every write validates first and mutates after, so a rejected request leaves the
//! store unchanged; every stored property names a field of its object type.

use super::error::{MockError, MockResult};
use super::fields::{FieldDef, Seeder, StatusDef, execution_statuses};
pub(crate) use super::parent::{Parent, Target};
use super::wire::{InlineAttachmentIn, PropertyIn};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Largest attachment accepted (qTest SaaS: 50 MB).
pub const MAX_ATTACHMENT_BYTES: usize = 50 * 1024 * 1024;

/// Settings of one mock qTest site with one project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QtestMockConfig {
    /// The only project id served.
    pub project_id: i64,
    /// Its name.
    pub project_name: String,
    /// The bearer token every `/api/v3` call must carry (and that login hands out).
    pub token: String,
    /// Login user.
    pub username: String,
    /// Login password.
    pub password: String,
}

impl Default for QtestMockConfig {
    fn default() -> Self {
        QtestMockConfig {
            project_id: 1,
            project_name: "ztoq mock project".to_string(),
            token: "mock-qtest-token".to_string(),
            username: "admin@example.com".to_string(),
            password: "admin".to_string(),
        }
    }
}

/// What the mock holds, for verification.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Summary {
    /// Modules (incl. an automatic "Created via API" module).
    pub modules: u64,
    /// Test cases.
    pub test_cases: u64,
    /// Test steps of all cases.
    pub test_steps: u64,
    /// Test cycles.
    pub test_cycles: u64,
    /// Test runs.
    pub test_runs: u64,
    /// Test logs.
    pub test_logs: u64,
    /// Test step logs of all logs.
    pub test_step_logs: u64,
    /// Attachments (uploaded and inline).
    pub attachments: u64,
}

/// The shared state of one mock site.
#[derive(Debug)]
pub struct QtestState {
    config: QtestMockConfig,
    store: RwLock<Store>,
}

impl QtestState {
    /// An empty project with seeded field settings.
    pub fn new(config: QtestMockConfig) -> Arc<Self> {
        Arc::new(QtestState {
            config,
            store: RwLock::new(Store::new()),
        })
    }

    /// Counts of what the mock holds.
    pub fn summary(&self) -> Summary {
        self.read().summary()
    }

    /// The configuration.
    pub fn config(&self) -> &QtestMockConfig {
        &self.config
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// A searchable object kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Case,
    Run,
    Cycle,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum IndexKey {
    Name(Kind, u64),
    Prop(Kind, i64, u64),
}

/// One stored property.
#[derive(Debug, Clone)]
pub(crate) struct PropVal {
    pub field: i64,
    pub value: Box<str>,
}

#[derive(Debug)]
pub(crate) struct ModuleRec {
    pub id: i64,
    pub pid_no: u32,
    pub name: Box<str>,
    pub description: Option<Box<str>>,
    pub parent: Option<i64>,
    pub order: u32,
    pub created: i64,
    pub children: Vec<i64>,
    pub cases: Vec<i64>,
}

#[derive(Debug)]
pub(crate) struct StepRec {
    pub id: i64,
    pub description: Box<str>,
    pub expected: Box<str>,
    pub called: Option<i64>,
}

#[derive(Debug)]
pub(crate) struct CaseRec {
    pub id: i64,
    pub pid_no: u32,
    pub name: Box<str>,
    pub module: i64,
    pub order: u32,
    pub description: Option<Box<str>>,
    pub precondition: Option<Box<str>>,
    pub props: Vec<PropVal>,
    pub steps: Vec<StepRec>,
    pub version_id: i64,
    pub created: i64,
}

#[derive(Debug)]
pub(crate) struct CycleRec {
    pub id: i64,
    pub pid_no: u32,
    pub name: Box<str>,
    /// The parent cycle; `None` under the root.
    pub parent: Option<i64>,
    pub description: Option<Box<str>>,
    pub target_release_id: Option<i64>,
    pub order: u32,
    pub created: i64,
    pub children: Vec<i64>,
}

#[derive(Debug)]
pub(crate) struct RunRec {
    pub id: i64,
    pub pid_no: u32,
    pub name: Box<str>,
    pub case: i64,
    pub version_id: i64,
    pub parent: Parent,
    pub order: u32,
    pub props: Vec<PropVal>,
    pub logs: Vec<i64>,
    pub created: i64,
}

#[derive(Debug)]
pub(crate) struct StepLogRec {
    pub id: i64,
    pub step: i64,
    pub status: i64,
    pub actual: Option<Box<str>>,
    pub order: i64,
}

#[derive(Debug)]
pub(crate) struct LogRec {
    pub id: i64,
    pub run: i64,
    pub status: i64,
    pub start: Box<str>,
    pub end: Box<str>,
    pub note: Option<Box<str>>,
    pub version_id: i64,
    pub props: Vec<PropVal>,
    pub step_logs: Vec<StepLogRec>,
}

#[derive(Debug)]
pub(crate) struct AttachmentRec {
    pub id: i64,
    pub name: Box<str>,
    pub content_type: Box<str>,
    pub created: i64,
}

/// Everything one project holds.
#[derive(Debug)]
pub(crate) struct Store {
    pub(crate) next_id: i64,
    pub fields: Vec<(&'static str, Vec<FieldDef>)>,
    pub statuses: Vec<StatusDef>,
    pub modules: HashMap<i64, ModuleRec>,
    pub root_modules: Vec<i64>,
    pub(crate) module_count: u32,
    pub(crate) api_module: Option<i64>,
    pub cases: HashMap<i64, CaseRec>,
    /// Ids of the existing cases in creation order (ids and pid numbers both ascend, so a
    /// `pid` is found by binary search: see [`Store::by_pid`]).
    pub case_ids: Vec<i64>,
    /// Cases created so far, deleted ones included (the next case's pid number − 1).
    pub(crate) case_count: u32,
    pub step_case: HashMap<i64, i64>,
    pub cycles: HashMap<i64, CycleRec>,
    pub cycle_ids: Vec<i64>,
    pub(crate) cycle_count: u32,
    pub root_cycles: Vec<i64>,
    pub runs: HashMap<i64, RunRec>,
    pub run_ids: Vec<i64>,
    pub(crate) run_count: u32,
    pub runs_by_parent: HashMap<Parent, Vec<i64>>,
    /// Runs of each test case (deleting a case deletes its runs, as qTest does).
    pub(crate) runs_by_case: HashMap<i64, Vec<i64>>,
    pub logs: HashMap<i64, LogRec>,
    pub step_log_owner: HashMap<i64, i64>,
    pub attachments: HashMap<(Target, i64), Vec<AttachmentRec>>,
    pub(crate) attachment_count: u64,
    pub(crate) index: HashMap<IndexKey, Vec<i64>>,
    /// The test-run system field "Status" (set by each new log).
    pub(crate) run_status_field: Option<i64>,
}

/// Milliseconds since the epoch, now.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub(crate) fn hash_str(s: &str) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

pub(crate) fn boxed(s: Option<String>) -> Option<Box<str>> {
    s.map(String::into_boxed_str)
}

pub(crate) fn required_text(value: Option<String>, what: &str) -> MockResult<Box<str>> {
    match value {
        Some(v) if !v.trim().is_empty() => Ok(v.into_boxed_str()),
        _ => Err(MockError::bad_request(format!("{what} is required"))),
    }
}

pub(crate) fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Store {
    fn new() -> Self {
        let mut next_id = 1;
        let fields = Seeder::new(&mut next_id).seed();
        let run_status_field = fields
            .iter()
            .filter(|(t, _)| *t == "test-runs")
            .flat_map(|(_, f)| f.iter())
            .find(|f| f.system_field && f.label == "Status")
            .map(|f| f.id);
        Store {
            next_id,
            fields,
            statuses: execution_statuses(),
            modules: HashMap::new(),
            root_modules: Vec::new(),
            module_count: 0,
            api_module: None,
            cases: HashMap::new(),
            case_ids: Vec::new(),
            case_count: 0,
            step_case: HashMap::new(),
            cycles: HashMap::new(),
            cycle_ids: Vec::new(),
            cycle_count: 0,
            root_cycles: Vec::new(),
            runs: HashMap::new(),
            run_ids: Vec::new(),
            run_count: 0,
            runs_by_parent: HashMap::new(),
            runs_by_case: HashMap::new(),
            logs: HashMap::new(),
            step_log_owner: HashMap::new(),
            attachments: HashMap::new(),
            attachment_count: 0,
            index: HashMap::new(),
            run_status_field,
        }
    }

    pub(crate) fn alloc(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn summary(&self) -> Summary {
        let n = |x: usize| x as u64;
        Summary {
            modules: n(self.modules.len()),
            test_cases: n(self.cases.len()),
            test_steps: n(self.step_case.len()),
            test_cycles: n(self.cycles.len()),
            test_runs: n(self.runs.len()),
            test_logs: n(self.logs.len()),
            test_step_logs: n(self.step_log_owner.len()),
            attachments: self.attachment_count,
        }
    }

    /// Field settings of an object type, or 400 for a type without them.
    pub fn fields_of(&self, object_type: &str) -> MockResult<&[FieldDef]> {
        self.fields
            .iter()
            .find(|(t, _)| *t == object_type)
            .map(|(_, f)| f.as_slice())
            .ok_or_else(|| MockError::bad_request(format!("Invalid object type '{object_type}'")))
    }

    /// A field by id within an object type.
    pub fn field(&self, object_type: &str, id: i64) -> Option<&FieldDef> {
        self.fields_of(object_type)
            .ok()?
            .iter()
            .find(|f| f.id == id)
    }

    pub fn status(&self, id: i64) -> Option<&StatusDef> {
        self.statuses.iter().find(|s| s.id == id)
    }

    /// Validates request properties against `object_type`'s fields.
    pub(crate) fn check_props(
        &self,
        object_type: &str,
        props: Vec<PropertyIn>,
    ) -> MockResult<Vec<PropVal>> {
        let mut out: Vec<PropVal> = Vec::with_capacity(props.len());
        for p in props {
            let field_id = p
                .field_id
                .ok_or_else(|| MockError::bad_request("properties[].field_id is required"))?;
            let field = self.field(object_type, field_id).ok_or_else(|| {
                MockError::bad_request(format!(
                    "Field {field_id} does not exist in {object_type} field settings"
                ))
            })?;
            let value = p.field_value.unwrap_or_default();
            field.check_value(&value)?;
            out.retain(|x| x.field != field_id);
            out.push(PropVal {
                field: field_id,
                value: value.into_boxed_str(),
            });
        }
        Ok(out)
    }

    /// Whether values of `field` on `kind` are in the search index. A run's Status is not: it
    /// has a handful of values shared by every run and changes with each log, so keeping it
    /// indexed would make each log O(runs); a query on it scans instead.
    pub fn indexed(&self, kind: Kind, field: i64) -> bool {
        !(kind == Kind::Run && Some(field) == self.run_status_field)
    }

    pub(crate) fn index_add(&mut self, kind: Kind, id: i64, name: &str, props: &[PropVal]) {
        self.index
            .entry(IndexKey::Name(kind, hash_str(name)))
            .or_default()
            .push(id);
        for p in props
            .iter()
            .filter(|p| !(kind == Kind::Run && Some(p.field) == self.run_status_field))
        {
            self.index
                .entry(IndexKey::Prop(kind, p.field, hash_str(&p.value)))
                .or_default()
                .push(id);
        }
    }

    /// Drops `id` from the search index entries `index_add` made for it.
    pub(crate) fn index_remove(&mut self, kind: Kind, id: i64, name: &str, props: &[PropVal]) {
        let mut keys = vec![IndexKey::Name(kind, hash_str(name))];
        keys.extend(
            props
                .iter()
                .filter(|p| !(kind == Kind::Run && Some(p.field) == self.run_status_field))
                .map(|p| IndexKey::Prop(kind, p.field, hash_str(&p.value))),
        );
        for key in keys {
            if let Some(ids) = self.index.get_mut(&key) {
                ids.retain(|&x| x != id);
                if ids.is_empty() {
                    self.index.remove(&key);
                }
            }
        }
    }

    /// The id of the object with pid number `n` among `ids` (ascending ids of existing objects,
    /// whose pid numbers ascend with them); `pid_of` reads an id's pid number.
    pub(crate) fn by_pid(ids: &[i64], n: u32, pid_of: impl Fn(i64) -> Option<u32>) -> Option<i64> {
        let at = ids.partition_point(|&id| pid_of(id).is_some_and(|p| p < n));
        ids.get(at).copied().filter(|&id| pid_of(id) == Some(n))
    }

    /// A test case by pid number (`TC-n`).
    pub(crate) fn case_by_pid(&self, n: u32) -> Option<i64> {
        Self::by_pid(&self.case_ids, n, |id| {
            self.cases.get(&id).map(|c| c.pid_no)
        })
    }

    /// A test run by pid number (`TR-n`).
    pub(crate) fn run_by_pid(&self, n: u32) -> Option<i64> {
        Self::by_pid(&self.run_ids, n, |id| self.runs.get(&id).map(|r| r.pid_no))
    }

    /// A test cycle by pid number (`CL-n`).
    pub(crate) fn cycle_by_pid(&self, n: u32) -> Option<i64> {
        Self::by_pid(&self.cycle_ids, n, |id| {
            self.cycles.get(&id).map(|c| c.pid_no)
        })
    }

    /// Candidate ids whose name hashes like `name` (callers re-check the name).
    pub fn by_name(&self, kind: Kind, name: &str) -> &[i64] {
        self.index
            .get(&IndexKey::Name(kind, hash_str(name)))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Candidate ids whose field value hashes like `value` (callers re-check the value).
    pub fn by_prop(&self, kind: Kind, field: i64, value: &str) -> &[i64] {
        self.index
            .get(&IndexKey::Prop(kind, field, hash_str(value)))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub(crate) fn decode_inline(
        &self,
        atts: Option<Vec<InlineAttachmentIn>>,
    ) -> MockResult<Vec<(Box<str>, Box<str>)>> {
        use base64::Engine as _;
        let mut out = Vec::new();
        for a in atts.unwrap_or_default() {
            let name = required_text(a.name, "attachments[].name")?;
            let content_type = required_text(a.content_type, "attachments[].content_type")?;
            let data = a.data.unwrap_or_default();
            if data.len() / 4 * 3 > MAX_ATTACHMENT_BYTES + 3 {
                return Err(MockError::too_large(format!(
                    "Attachment {name} is larger than 50 MB"
                )));
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .map_err(|e| {
                    MockError::bad_request(format!(
                        "attachments[].data of {name} is not base64: {e}"
                    ))
                })?;
            if bytes.len() > MAX_ATTACHMENT_BYTES {
                return Err(MockError::too_large(format!(
                    "Attachment {name} is larger than 50 MB"
                )));
            }
            out.push((name, content_type));
        }
        Ok(out)
    }

    pub(crate) fn store_attachments(
        &mut self,
        target: Target,
        object_id: i64,
        files: Vec<(Box<str>, Box<str>)>,
    ) {
        for (name, content_type) in files {
            self.push_attachment(target, object_id, name, content_type);
        }
    }

    fn push_attachment(
        &mut self,
        target: Target,
        object_id: i64,
        name: Box<str>,
        content_type: Box<str>,
    ) -> i64 {
        let id = self.alloc();
        self.attachments
            .entry((target, object_id))
            .or_default()
            .push(AttachmentRec {
                id,
                name,
                content_type,
                created: now_ms(),
            });
        self.attachment_count += 1;
        id
    }

    /// Whether an attachment owner exists.
    pub fn target_exists(&self, target: Target, id: i64) -> bool {
        match target {
            Target::Case => self.cases.contains_key(&id),
            Target::Log => self.logs.contains_key(&id),
            Target::Step => self.step_case.contains_key(&id),
            Target::StepLog => self.step_log_owner.contains_key(&id),
        }
    }

    /// Stores an uploaded attachment's metadata (the bytes are not kept).
    pub fn add_attachment(
        &mut self,
        target: Target,
        object_id: i64,
        name: &str,
        content_type: &str,
    ) -> i64 {
        self.push_attachment(target, object_id, name.into(), content_type.into())
    }
}
