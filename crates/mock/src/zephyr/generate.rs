//! The lazy, deterministic project: every entity is computed on demand from `(seed, index)`
//! with a stateless hash, never from a shared RNG stream, so any entity (and any page) costs
//! O(1) and the same seed always yields the same project.
//!
//! Builders take `api`, the absolute `…/v2` base, because `self` URLs are absolute.

use super::layout::{Layout, ids};
use serde_json::{Map, Value, json};
use ztoq_model::zephyr::{
    ExecutionStep, ExecutionStepInline, Folder, InlineStep, Links, OptionValue, Project, Ref,
    TestCase, TestCycle, TestExecution, TestStep, UserRef,
};

/// SplitMix64 finaliser.
pub(super) fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A stateless hash of `(seed, tag, index)`: the only source of variety in the project.
pub(crate) fn mix(seed: u64, tag: u64, index: u64) -> u64 {
    splitmix(splitmix(seed ^ tag.wrapping_mul(0xD6E8_FEB8_6659_FD93)) ^ index)
}

// Hash tags, one per decision, so decisions are independent.
const T_NAME: u64 = 2;
const T_STEPS: u64 = 3;
const T_FIELDS: u64 = 4;
const T_STATUS: u64 = 5;
pub(super) const T_ATTACH: u64 = 7;
const T_CYCLE: u64 = 8;
const T_EXEC: u64 = 9;

const ADJECTIVES: &[&str] = &[
    "saved",
    "expired",
    "guest",
    "premium",
    "empty",
    "large",
    "foreign",
    "duplicate",
    "locked",
];
const NOUNS: &[&str] = &[
    "card", "basket", "order", "invoice", "account", "coupon", "address", "refund", "report",
];
const AREAS: &[&str] = &[
    "Checkout", "Billing", "Accounts", "Search", "Reports", "Admin", "Mobile",
];
const ACCOUNTS: &[&str] = &[
    "5b10ac8d82e05b22cc7d4ef5",
    "5b10a2844c20165700ede21g",
    "557058:f58131cb-b67d-43c7",
];

/// Status ids: test case 3001–3003, test plan 3011–3012, test cycle 3021–3023,
/// test execution 3031–3035.
const STATUSES: &[(i64, &str, &str, &str)] = &[
    (3001, "TEST_CASE", "Draft", "#cccccc"),
    (3002, "TEST_CASE", "Approved", "#3abb4b"),
    (3003, "TEST_CASE", "Deprecated", "#8b8b8b"),
    (3011, "TEST_PLAN", "Draft", "#cccccc"),
    (3012, "TEST_PLAN", "Approved", "#3abb4b"),
    (3021, "TEST_CYCLE", "Not Executed", "#cccccc"),
    (3022, "TEST_CYCLE", "In Progress", "#f0ad4e"),
    (3023, "TEST_CYCLE", "Done", "#3abb4b"),
    (3031, "TEST_EXECUTION", "Not Executed", "#cccccc"),
    (3032, "TEST_EXECUTION", "In Progress", "#f0ad4e"),
    (3033, "TEST_EXECUTION", "Pass", "#3abb4b"),
    (3034, "TEST_EXECUTION", "Fail", "#df2f36"),
    (3035, "TEST_EXECUTION", "Blocked", "#4a6785"),
];
const PRIORITIES: &[(i64, &str, &str)] = &[
    (4001, "High", "#df2f36"),
    (4002, "Normal", "#f0ad4e"),
    (4003, "Low", "#3abb4b"),
];
const ENVIRONMENTS: &[(i64, &str)] = &[(5001, "Chrome 124"), (5002, "Firefox 126")];

/// 2024-01-01T00:00:00Z.
const EPOCH: i64 = 1_704_067_200;

fn pick<'a>(list: &[&'a str], h: u64) -> &'a str {
    list[(h % list.len() as u64) as usize]
}

fn date(secs: i64) -> String {
    chrono::DateTime::from_timestamp(EPOCH + secs, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

fn rf(api: &str, kind: &str, id: i64) -> Ref {
    Ref {
        id,
        self_url: Some(format!("{api}/{kind}/{id}")),
    }
}

/// The generated project: a [`Layout`] plus the builders of each entity.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub(crate) layout: Layout,
    pub(crate) key: String,
}

impl Dataset {
    pub(crate) fn new(seed: u64, scale: u64, key: &str) -> Self {
        Dataset {
            layout: Layout::new(seed, scale),
            key: key.to_string(),
        }
    }

    pub(super) fn h(&self, tag: u64, i: u64) -> u64 {
        mix(self.layout.seed, tag, i)
    }

    fn project_ref(&self, api: &str) -> Ref {
        rf(api, "projects", ids::PROJECT)
    }

    /// The project.
    pub fn project(&self) -> Project {
        Project {
            id: ids::PROJECT,
            jira_project_id: ids::JIRA_PROJECT,
            key: self.key.clone(),
            enabled: Some(true),
        }
    }

    /// Number of folders of all types.
    pub fn folder_count(&self) -> u64 {
        self.layout.folders()
    }

    /// Folder type of folder index `f` (test-case tree, then test-cycle, then test-plan).
    pub fn folder_type(&self, f: u64) -> &'static str {
        let (tc, cy) = (
            self.layout.case_tree.count(),
            self.layout.cycle_tree.count(),
        );
        if f < tc {
            "TEST_CASE"
        } else if f < tc + cy {
            "TEST_CYCLE"
        } else {
            "TEST_PLAN"
        }
    }

    /// Folder index `f` (0-based over all folders).
    pub fn folder(&self, f: u64, api: &str) -> Folder {
        let (tc, cy) = (
            self.layout.case_tree.count(),
            self.layout.cycle_tree.count(),
        );
        let folder_type = self.folder_type(f);
        let (base, (parent, index, depth)) = match folder_type {
            "TEST_CASE" => (0, self.layout.case_tree.position(f)),
            "TEST_CYCLE" => (tc, self.layout.cycle_tree.position(f - tc)),
            _ => (tc + cy, (None, f - tc - cy, 1)),
        };
        let name = match (folder_type, depth) {
            ("TEST_PLAN", _) => format!("Release plans {}", index + 1),
            ("TEST_CYCLE", 1) => format!("Sprint {}", f - base + 1),
            ("TEST_CYCLE", _) => format!("Regression {}", f - base + 1),
            (_, 1) => format!("{} {}", pick(AREAS, self.h(T_NAME, f)), f + 1),
            (_, _) => format!("{} {}", pick(NOUNS, self.h(T_NAME, f)), f + 1),
        };
        Folder {
            id: ids::FOLDER + f as i64,
            parent_id: parent.map(|p| ids::FOLDER + (base + p) as i64),
            name,
            index: index as i64,
            folder_type: folder_type.to_string(),
            project: Some(self.project_ref(api)),
        }
    }

    /// All statuses, optionally of one `statusType`.
    pub fn statuses(&self, status_type: Option<&str>, api: &str) -> Vec<OptionValue> {
        let mut out = Vec::new();
        for &(id, kind, name, color) in STATUSES {
            if status_type.is_some_and(|t| t != kind) {
                continue;
            }
            let index = out.len() as i64;
            out.push(OptionValue {
                id,
                project: self.project_ref(api),
                name: name.to_string(),
                description: None,
                index,
                color: Some(color.to_string()),
                archived: Some(false),
                default: Some(index == 0),
            });
        }
        out
    }

    /// The priorities.
    pub fn priorities(&self, api: &str) -> Vec<OptionValue> {
        PRIORITIES
            .iter()
            .enumerate()
            .map(|(i, &(id, name, color))| OptionValue {
                id,
                project: self.project_ref(api),
                name: name.to_string(),
                description: None,
                index: i as i64,
                color: Some(color.to_string()),
                archived: None,
                default: Some(name == "Normal"),
            })
            .collect()
    }

    /// The environments.
    pub fn environments(&self, api: &str) -> Vec<OptionValue> {
        ENVIRONMENTS
            .iter()
            .enumerate()
            .map(|(i, &(id, name))| OptionValue {
                id,
                project: self.project_ref(api),
                name: name.to_string(),
                description: Some(format!("{name} on Linux")),
                index: i as i64,
                color: None,
                archived: Some(false),
                default: None,
            })
            .collect()
    }

    /// Key of test case `i`.
    pub fn test_case_key(&self, i: u64) -> String {
        format!("{}-T{}", self.key, i + 1)
    }

    /// Index of a test case key, if it names one.
    pub fn test_case_index(&self, key: &str) -> Option<u64> {
        parse_key(key, &self.key, 'T').filter(|&i| i < self.layout.cases)
    }

    /// Number of steps of test case `i` (0–15).
    pub fn step_count(&self, i: u64) -> u64 {
        self.h(T_STEPS, i) % 16
    }

    /// Test case `i`.
    pub fn test_case(&self, i: u64, api: &str) -> TestCase {
        let h = self.h(T_NAME, i);
        let f = self.h(T_FIELDS, i);
        let key = self.test_case_key(i);
        let mut fields = Map::new();
        fields.insert("Risk".into(), json!(pick(&["High", "Medium", "Low"], f)));
        fields.insert("Automated".into(), json!(f & 8 == 0));
        fields.insert(
            "Story points".into(),
            if f & 16 == 0 {
                json!(f % 13)
            } else {
                Value::Null
            },
        );
        fields.insert(
            "Review date".into(),
            json!(format!("2024-0{}-1{}", 1 + f % 9, f % 10)),
        );
        fields.insert(
            "Platforms".into(),
            json!(["Web", pick(&["iOS", "Android"], f >> 7)]),
        );
        TestCase {
            id: ids::TEST_CASE + i as i64,
            name: format!(
                "Pay with {} {} #{}",
                pick(ADJECTIVES, h),
                pick(NOUNS, h >> 8),
                i + 1
            ),
            project: self.project_ref(api),
            created_on: Some(date((h % 20_000_000) as i64)),
            objective: Some(format!(
                "<p>The {} is handled once</p>",
                pick(NOUNS, h >> 16)
            )),
            precondition: (h & 32 == 0).then(|| "<p>User is logged in</p>".to_string()),
            estimated_time: (h & 64 == 0).then_some(((h >> 20) % 600) as i64 * 1000),
            labels: if h & 128 == 0 {
                vec!["smoke".into(), pick(NOUNS, h >> 24).into()]
            } else {
                vec![]
            },
            component: None,
            priority: rf(api, "priorities", PRIORITIES[((h >> 32) % 3) as usize].0),
            status: rf(api, "statuses", STATUSES[((h >> 36) % 3) as usize].0),
            folder: Some(rf(
                api,
                "folders",
                ids::FOLDER + self.layout.case_folder(i) as i64,
            )),
            owner: (h & 256 == 0).then(|| user(h >> 40)),
            test_script: Some(json!({ "self": format!("{api}/testcases/{key}/teststeps") })),
            custom_fields: fields,
            links: Some(Links {
                self_url: Some(format!("{api}/testcases/{key}/links")),
                issues: vec![],
                web_links: Some(vec![]),
            }),
            key,
        }
    }

    /// Step `s` of test case `i`.
    pub fn test_step(&self, i: u64, s: u64) -> TestStep {
        let h = self.h(T_STEPS, i ^ (s << 40));
        TestStep {
            id: Some(ids::TEST_STEP + (i * 16 + s) as i64),
            inline: Some(InlineStep {
                description: Some(format!(
                    "<p>Step {}: open the {}</p>",
                    s + 1,
                    pick(NOUNS, h)
                )),
                test_data: (h & 3 != 0).then(|| format!("{}={}", pick(NOUNS, h >> 8), h % 1000)),
                expected_result: Some(format!("<p>The {} is shown</p>", pick(NOUNS, h >> 16))),
                custom_fields: Some(Map::new()),
                reflect_ref: None,
            }),
            test_case: None,
        }
    }

    /// Key of cycle `c`.
    pub fn test_cycle_key(&self, c: u64) -> String {
        format!("{}-R{}", self.key, c + 1)
    }

    /// Index of a cycle id or key.
    pub fn test_cycle_index(&self, id_or_key: &str) -> Option<u64> {
        id_or_index(id_or_key, &self.key, 'R', ids::TEST_CYCLE).filter(|&c| c < self.layout.cycles)
    }

    /// Folder index of cycle `c` (within all folders), or `None` in the root.
    pub fn cycle_folder(&self, c: u64) -> Option<u64> {
        let h = self.h(T_CYCLE, c);
        let n = self.layout.cycle_tree.count();
        (!h.is_multiple_of(3)).then(|| self.layout.case_tree.count() + (h >> 8) % n)
    }

    /// Test cycle `c`.
    pub fn test_cycle(&self, c: u64, api: &str) -> TestCycle {
        let h = self.h(T_CYCLE, c);
        let start = (c as i64) * 14 * 86_400;
        let id = ids::TEST_CYCLE + c as i64;
        TestCycle {
            id,
            key: self.test_cycle_key(c),
            name: format!("Sprint {} regression", c + 1),
            project: self.project_ref(api),
            jira_project_version: None,
            status: rf(api, "statuses", STATUSES[6 + ((h >> 4) % 3) as usize].0),
            folder: self
                .cycle_folder(c)
                .map(|f| rf(api, "folders", ids::FOLDER + f as i64)),
            description: (h & 16 == 0).then(|| format!("<p>Build 2.{}.0</p>", c)),
            planned_start_date: Some(date(start)),
            planned_end_date: Some(date(start + 11 * 86_400)),
            owner: (h & 32 == 0).then(|| user(h >> 20)),
            custom_fields: Map::from_iter([("Build".to_string(), json!(format!("2.{c}.0")))]),
            links: Some(json!({
                "self": format!("{api}/testcycles/{id}/links"),
                "issues": [], "webLinks": [], "testPlans": []
            })),
        }
    }

    /// Key of execution `e`.
    pub fn execution_key(&self, e: u64) -> String {
        format!("{}-E{}", self.key, e + 1)
    }

    /// Index of an execution id or key.
    pub fn execution_index(&self, id_or_key: &str) -> Option<u64> {
        id_or_index(id_or_key, &self.key, 'E', ids::EXECUTION)
            .filter(|&e| e < self.layout.executions)
    }

    /// The (cycle index, case index) of execution `e`.
    pub fn execution_target(&self, e: u64) -> (u64, u64) {
        self.layout.pair(self.layout.execution_pair(e).0)
    }

    /// Execution `e`.
    pub fn execution(&self, e: u64, api: &str) -> TestExecution {
        let (p, run) = self.layout.execution_pair(e);
        let (c, k) = self.layout.pair(p);
        let h = self.h(T_EXEC, e);
        let id = ids::EXECUTION + e as i64;
        let case_key = self.test_case_key(k);
        let when = (c as i64) * 14 * 86_400 + (run as i64 + 1) * 86_400 + (h % 36_000) as i64;
        TestExecution {
            id,
            key: Some(self.execution_key(e)),
            project: self.project_ref(api),
            test_case: Ref {
                id: ids::TEST_CASE + k as i64,
                self_url: Some(format!("{api}/testcases/{case_key}/versions/1")),
            },
            test_cycle: Some(rf(api, "testcycles", ids::TEST_CYCLE + c as i64)),
            test_execution_status: rf(api, "statuses", self.execution_status(e)),
            environment: (h & 4 == 0)
                .then(|| rf(api, "environments", ENVIRONMENTS[((h >> 3) % 2) as usize].0)),
            jira_project_version: None,
            actual_end_date: Some(date(when)),
            estimated_time: None,
            execution_time: Some(((h >> 8) % 600_000) as i64),
            executed_by_id: Some(pick(ACCOUNTS, h >> 24).to_string()),
            assigned_to_id: (h & 8 == 0).then(|| pick(ACCOUNTS, h >> 28).to_string()),
            comment: (h & 16 == 0).then(|| format!("<p>Run {} of {}</p>", run + 1, case_key)),
            automated: Some(h & 32 == 0),
            custom_fields: Map::from_iter([("Browser build".to_string(), Value::Null)]),
            links: Some(
                json!({ "self": format!("{api}/testexecutions/{id}/links"), "issues": [] }),
            ),
        }
    }

    fn execution_status(&self, e: u64) -> i64 {
        STATUSES[8 + (self.h(T_STATUS, e) % 5) as usize].0
    }

    /// Step results of execution `e`: one per step of its test case, same order.
    pub fn execution_step(&self, e: u64, s: u64, api: &str) -> ExecutionStep {
        let (_, k) = self.execution_target(e);
        let step = self.test_step(k, s).inline.unwrap_or_default();
        let h = self.h(T_STATUS, e ^ (s << 40));
        let status = STATUSES[8 + (h % 5) as usize];
        ExecutionStep {
            id: Some(ids::EXECUTION_STEP + (e * 16 + s) as i64),
            inline: Some(ExecutionStepInline {
                description: step.description,
                test_data: step.test_data,
                expected_result: step.expected_result,
                actual_result: Some(format!("<p>{}</p>", status.2)),
                test_data_row_number: None,
                reflect_ref: None,
                status: Some(rf(api, "statuses", status.0)),
            }),
        }
    }
}

fn user(h: u64) -> UserRef {
    let account = pick(ACCOUNTS, h);
    UserRef {
        self_url: Some(format!(
            "https://acme.atlassian.net/rest/api/2/user?accountId={account}"
        )),
        account_id: Some(account.to_string()),
    }
}

/// Parses `{PROJECT}-{letter}{n}` (1-based) into a 0-based index.
fn parse_key(key: &str, project: &str, letter: char) -> Option<u64> {
    let rest = key
        .strip_prefix(project)?
        .strip_prefix('-')?
        .strip_prefix(letter)?;
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.parse::<u64>().ok()?.checked_sub(1)
}

/// A numeric id (`base + index`) or a key.
fn id_or_index(id_or_key: &str, project: &str, letter: char, base: i64) -> Option<u64> {
    match id_or_key.parse::<i64>() {
        Ok(id) => u64::try_from(id.checked_sub(base)?).ok(),
        Err(_) => parse_key(id_or_key, project, letter),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        let d = Dataset::new(1, 1000, "ACME");
        assert_eq!(d.test_case_index(&d.test_case_key(5)), Some(5));
        assert_eq!(d.test_case_index("ACME-T0"), None);
        assert_eq!(d.test_case_index("OTHER-T1"), None);
        assert_eq!(d.test_cycle_index("ACME-R2"), Some(1));
        assert_eq!(
            d.test_cycle_index(&(ids::TEST_CYCLE + 1).to_string()),
            Some(1)
        );
        assert_eq!(d.execution_index("ACME-E1"), Some(0));
        assert_eq!(d.execution_index("ACME-E+1"), None);
    }

    #[test]
    fn history_runs_end_later() {
        let d = Dataset::new(3, 2000, "ACME");
        for e in 1..d.layout.executions {
            let (a, b) = (d.execution(e - 1, "x"), d.execution(e, "x"));
            if d.execution_target(e - 1) == d.execution_target(e) {
                assert!(a.actual_end_date < b.actual_end_date);
            }
        }
    }
}
