//! Hostile mode (`ZephyrState::set_hostile`, `POST /__mock/hostile`): the generated project
//! plus one of each kind of broken or hostile source data, at deterministic positions, and
//! lists that misbehave. Off by default; every base entity keeps its id and content, the
//! planted ones are added after them (ids `base + count + j`), so "every good record is
//! migrated" can be checked against the base [`Summary`](super::Summary).
//!
//! Planted ([`HostilePlan`] names each):
//! - folders: `Loop A` and `Loop B`, each the other's parent; a folder whose name holds HTML,
//!   RTL marks, emoji, combining marks and a NUL;
//! - test cases: an item whose `name` is an object; an item with only `id` and `project`; a
//!   case whose folder does not exist; a case in `Loop A`; a case full of HTML/`<script>`,
//!   RTL marks, emoji, combining marks, NULs and a lone surrogate escape (`\ud800`, in the
//!   JSON text) with two steps, an attachment whose name holds a NUL and an execution; a
//!   case with a 604-character name, a 3 MB objective, a 3 MB step and a 60 MB attachment
//!   (above qTest's 50 MB limit; streamed, never materialised);
//! - test cycles: at position 1 of `/testcycles`, an item that is not valid JSON at all;
//! - executions: one of a test case that does not exist (deleted), one of the hostile case;
//! - repeats: each page of `/folders` and `/testexecutions/nextgen` after the first repeats
//!   the last [`REPEAT`] items of the page before.
//!
//! Filtered lists (`folderId`, `testCycle`, `testCase`, `onlyLastExecutions`) serve the base
//! project only.

use super::ZephyrState;
use super::generate::Dataset;
use super::layout::ids;
use super::paging::{Ctx, MockError};
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Items each misbehaving page repeats from the page before.
pub const REPEAT: u64 = 2;
/// Size of the big case's objective and step text.
pub const BIG_TEXT_BYTES: usize = 3 * 1024 * 1024;
/// Size of the huge attachment (qTest takes at most 50 MB).
pub const HUGE_ATTACHMENT_BYTES: u64 = 60 * 1024 * 1024;

/// Stands for a lone surrogate escape: replaced by `\ud800` in the JSON text (a Rust string
/// cannot hold one, so it cannot be serialised).
const LONE: &str = "\u{E000}lone-surrogate\u{E000}";
/// Stands for a whole item whose JSON is broken: the quoted placeholder is replaced by
/// [`Dataset::broken_cycle_text`].
const BROKEN: &str = "\u{E000}broken-item\u{E000}";

/// Planted test cases, in list order after the base ones.
const WRONG_TYPE: u64 = 0;
const MISSING_FIELDS: u64 = 1;
const MISSING_FOLDER: u64 = 2;
const IN_LOOP: u64 = 3;
const UNICODE: u64 = 4;
const BIG: u64 = 5;
const EXTRA_CASES: u64 = 6;
/// Planted folders, after the base ones.
const LOOP_A: u64 = 0;
const LOOP_B: u64 = 1;
const UNICODE_FOLDER: u64 = 2;
const EXTRA_FOLDERS: u64 = 3;
/// Planted executions, after the base ones.
const ORPHAN: u64 = 0;
const UNICODE_EXECUTION: u64 = 1;
const EXTRA_EXECUTIONS: u64 = 2;
/// Position of the broken item in `/testcycles`.
const BROKEN_CYCLE_AT: u64 = 1;
/// A folder id no project has.
const NO_SUCH_FOLDER: i64 = 8_999_999_999;

/// What hostile mode plants, by id and key, for tests to check what became of each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostilePlan {
    /// `Loop A` and `Loop B` (ids), each the other's parent.
    pub loop_folders: [i64; 2],
    /// A folder whose name holds HTML, RTL marks, emoji, combining marks and a NUL.
    pub unicode_folder: i64,
    /// Its name as served.
    pub unicode_folder_name: String,
    /// A test case item whose `name` is an object: id and key.
    pub wrong_type_case: (i64, String),
    /// A test case item with only `id` and `project`.
    pub missing_fields_case: i64,
    /// A test case whose folder does not exist, and that folder id.
    pub missing_folder_case: (String, i64),
    /// A test case in `Loop A`.
    pub loop_case: String,
    /// The test case full of HTML, unusual unicode, NULs and a lone surrogate.
    pub unicode_case: String,
    /// The test case with megabytes of text and a huge attachment.
    pub big_case: String,
    /// The huge attachment: id, name, size in bytes.
    pub huge_attachment: (i64, String, u64),
    /// The attachment whose name holds a NUL: id, name as served.
    pub nul_attachment: (i64, String),
    /// The broken `/testcycles` item: its position (`startAt`) and the id it would have.
    pub broken_cycle: (u64, i64),
    /// The execution of a deleted test case: its key and the deleted case's key.
    pub orphan_execution: (String, String),
    /// The execution of the unicode case.
    pub unicode_execution: String,
    /// Planted items per list: folders, test cases, test cycles, executions.
    pub extra: [u64; 4],
}

/// Serialises `value` and puts the raw JSON the placeholders stand for in its place.
pub(crate) fn respond(data: &Dataset, value: &impl Serialize) -> Response {
    let mut text = match serde_json::to_string(value) {
        Ok(t) => t,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    if text.contains('\u{E000}') {
        text = text
            .replace(LONE, "\\ud800")
            .replace(&format!("\"{BROKEN}\""), &data.broken_cycle_text());
    }
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

fn big_text(what: &str) -> String {
    let filler = format!("{what}: lorem ipsum dolor sit amet, ünïcödé ✓ 😀; ");
    let mut s = String::with_capacity(BIG_TEXT_BYTES + 16);
    s.push_str("<p>");
    while s.len() < BIG_TEXT_BYTES {
        s.push_str(&filler);
    }
    s.push_str("</p>");
    s
}

impl Dataset {
    fn case_base(&self) -> u64 {
        self.layout.cases
    }

    /// The plan of hostile mode for this project.
    pub fn hostile_plan(&self) -> HostilePlan {
        let l = &self.layout;
        let folder = |j: u64| ids::FOLDER + (l.folders() + j) as i64;
        let case = |j: u64| self.test_case_key(self.case_base() + j);
        let attachments = l.case_attachments.items() + l.execution_attachments.items();
        HostilePlan {
            loop_folders: [folder(LOOP_A), folder(LOOP_B)],
            unicode_folder: folder(UNICODE_FOLDER),
            unicode_folder_name: self.unicode_folder_name(),
            wrong_type_case: (
                ids::TEST_CASE + (self.case_base() + WRONG_TYPE) as i64,
                case(WRONG_TYPE),
            ),
            missing_fields_case: ids::TEST_CASE + (self.case_base() + MISSING_FIELDS) as i64,
            missing_folder_case: (case(MISSING_FOLDER), NO_SUCH_FOLDER),
            loop_case: case(IN_LOOP),
            unicode_case: case(UNICODE),
            big_case: case(BIG),
            huge_attachment: (
                ids::ATTACHMENT + attachments as i64 + 1,
                "huge-recording.bin".into(),
                HUGE_ATTACHMENT_BYTES,
            ),
            nul_attachment: (ids::ATTACHMENT + attachments as i64, "notes\0.txt".into()),
            broken_cycle: (
                BROKEN_CYCLE_AT.min(l.cycles),
                ids::TEST_CYCLE + l.cycles as i64,
            ),
            orphan_execution: (
                self.execution_key(l.executions + ORPHAN),
                self.deleted_case_key(),
            ),
            unicode_execution: self.execution_key(l.executions + UNICODE_EXECUTION),
            extra: [EXTRA_FOLDERS, EXTRA_CASES, 1, EXTRA_EXECUTIONS],
        }
    }

    fn deleted_case_key(&self) -> String {
        format!("{}-T99999999", self.key)
    }

    fn unicode_folder_name(&self) -> String {
        "<i>Frühling</i> \u{200F}אביב\u{200F} 🌸 Cafe\u{301} \0<script>alert(1)</script>".into()
    }

    /// Folder `i` of the hostile folder list (base folders, then the planted ones).
    pub(crate) fn hostile_folder(&self, i: u64, api: &str) -> Value {
        let base = self.layout.folders();
        if i < base {
            return json!(self.folder(i, api));
        }
        let j = i - base;
        let id = ids::FOLDER + i as i64;
        let (name, parent) = match j {
            LOOP_A => ("Loop A".to_string(), id + 1),
            LOOP_B => ("Loop B".to_string(), id - 1),
            _ => (self.unicode_folder_name(), ids::FOLDER),
        };
        json!({
            "id": id, "parentId": parent, "name": name, "index": 100 + j,
            "folderType": "TEST_CASE",
            "project": {"id": ids::PROJECT, "self": format!("{api}/projects/{}", ids::PROJECT)}
        })
    }

    /// Number of folders in hostile mode.
    pub(crate) fn hostile_folder_count(&self) -> u64 {
        self.layout.folders() + EXTRA_FOLDERS
    }

    /// Number of test cases in hostile mode.
    pub(crate) fn hostile_case_count(&self) -> u64 {
        self.layout.cases + EXTRA_CASES
    }

    /// The planted case index `j` of a key, if it names one.
    pub(crate) fn hostile_case_of(&self, key: &str) -> Option<u64> {
        (0..EXTRA_CASES).find(|&j| self.test_case_key(self.case_base() + j) == key)
    }

    /// Test case `i` of the hostile list (base cases, then the planted ones).
    pub(crate) fn hostile_case(&self, i: u64, api: &str) -> Value {
        let base = self.case_base();
        if i < base {
            return json!(self.test_case(i, api));
        }
        let j = i - base;
        let id = ids::TEST_CASE + i as i64;
        let key = self.test_case_key(i);
        let project =
            json!({"id": ids::PROJECT, "self": format!("{api}/projects/{}", ids::PROJECT)});
        if j == MISSING_FIELDS {
            return json!({"id": id, "project": project});
        }
        // Start from a valid case and change what the plant needs.
        let mut case = json!(self.test_case(0, api));
        case["id"] = json!(id);
        case["key"] = json!(key);
        case["name"] = json!(format!("Planted case {}", j + 1));
        case["testScript"] = json!({"self": format!("{api}/testcases/{key}/teststeps")});
        case["links"]["self"] = json!(format!("{api}/testcases/{key}/links"));
        let folder = |id: i64| json!({"id": id, "self": format!("{api}/folders/{id}")});
        match j {
            WRONG_TYPE => case["name"] = json!({"en": "a name that is an object"}),
            MISSING_FOLDER => case["folder"] = folder(NO_SUCH_FOLDER),
            IN_LOOP => {
                case["folder"] = folder(ids::FOLDER + (self.layout.folders() + LOOP_A) as i64)
            }
            UNICODE => {
                case["name"] = json!(
                    "<script>alert(\"x\")</script> Zahlung ✓ \u{200F}שלום\u{200F} 👩‍💻 e\u{301} \
                     <b>bold</b> & &amp;\0"
                );
                case["objective"] = json!(format!(
                    "<p onclick=\"evil()\">Hello <img src=x onerror=alert(1)> &lt;kept&gt;\0 \
                     lone: {LONE}</p>"
                ));
                case["precondition"] = json!(
                    "<p>ZWJ 👨‍👩‍👧, RTL \u{202E}override\u{202C}, Z\u{351}a\u{353}l\u{354}g\u{355}o</p>"
                );
            }
            _ => {
                case["name"] = json!(format!("Big {}", "ab😀".repeat(200)));
                case["objective"] = json!(big_text("objective"));
            }
        }
        case
    }

    /// The steps of planted case `j`.
    pub(crate) fn hostile_steps(&self, j: u64) -> Vec<Value> {
        match j {
            UNICODE => vec![
                json!({"id": 9_000_000_001i64, "inline": {
                    "description": "<p>Type <code>&lt;script&gt;</code>\0 into the box</p>",
                    "testData": null, "expectedResult": "<p>Nothing runs ✓</p>",
                    "customFields": {}, "reflectRef": null}, "testCase": null}),
                json!({"id": 9_000_000_002i64, "inline": {
                    "description": "<p>Zalgo: Z\u{351}\u{352}a\u{353}l\u{354}g\u{355}o \u{200F}ימין</p>",
                    "testData": "ключ=значение", "expectedResult": "<p>Shown as typed</p>",
                    "customFields": {}, "reflectRef": null}, "testCase": null}),
            ],
            BIG => vec![json!({"id": 9_000_000_003i64, "inline": {
                "description": big_text("step"), "testData": null,
                "expectedResult": "<p>ok</p>", "customFields": {}, "reflectRef": null},
                "testCase": null})],
            _ => Vec::new(),
        }
    }

    /// The attachments of planted case `j`: `(id, name)`.
    pub(crate) fn hostile_attachments(&self, j: u64) -> Vec<(i64, String)> {
        let plan = self.hostile_plan();
        match j {
            UNICODE => vec![plan.nul_attachment],
            BIG => vec![(plan.huge_attachment.0, plan.huge_attachment.1)],
            _ => Vec::new(),
        }
    }

    /// The content of a planted attachment: small text, or the huge one streamed.
    pub(crate) fn hostile_attachment_content(&self, id: i64) -> Option<Response> {
        let plan = self.hostile_plan();
        if id == plan.nul_attachment.0 {
            return Some(
                (
                    [(header::CONTENT_TYPE, "text/plain")],
                    "notes: ✓ ünïcödé\n".to_string(),
                )
                    .into_response(),
            );
        }
        if id != plan.huge_attachment.0 {
            return None;
        }
        const CHUNK: u64 = 64 * 1024;
        let chunks = HUGE_ATTACHMENT_BYTES / CHUNK;
        let stream = futures::stream::iter((0..chunks).map(|c| {
            Ok::<_, std::io::Error>(bytes::Bytes::from(vec![(c % 251) as u8; CHUNK as usize]))
        }));
        Some(
            (
                [
                    (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                    (header::CONTENT_LENGTH, HUGE_ATTACHMENT_BYTES.to_string()),
                ],
                Body::from_stream(stream),
            )
                .into_response(),
        )
    }

    /// Test cycle at position `i` of the hostile `/testcycles` (the broken item at
    /// [`BROKEN_CYCLE_AT`], the base cycles around it).
    pub(crate) fn hostile_cycle(&self, i: u64, api: &str) -> Value {
        let at = BROKEN_CYCLE_AT.min(self.layout.cycles);
        match i.cmp(&at) {
            std::cmp::Ordering::Less => json!(self.test_cycle(i, api)),
            std::cmp::Ordering::Equal => json!(BROKEN),
            std::cmp::Ordering::Greater => json!(self.test_cycle(i - 1, api)),
        }
    }

    /// The JSON text of the broken cycle: a missing comma.
    fn broken_cycle_text(&self) -> String {
        let c = self.layout.cycles;
        format!(
            r#"{{"id": {}, "key": "{}", "name": "Broken cycle", "project": {{"id": {}}}, "status": {{"id": 3021}} "folder": null}}"#,
            ids::TEST_CYCLE + c as i64,
            self.test_cycle_key(c),
            ids::PROJECT
        )
    }

    /// Number of executions in hostile mode.
    pub(crate) fn hostile_execution_count(&self) -> u64 {
        self.layout.executions + EXTRA_EXECUTIONS
    }

    /// Execution `e` of the hostile list (base executions, then the planted ones).
    pub(crate) fn hostile_execution(&self, e: u64, api: &str) -> Value {
        let base = self.layout.executions;
        if e < base {
            return json!(self.execution(e, api));
        }
        let j = e - base;
        let mut x = json!(self.execution(0, api));
        let id = ids::EXECUTION + e as i64;
        x["id"] = json!(id);
        x["key"] = json!(self.execution_key(e));
        x["links"] = json!({"self": format!("{api}/testexecutions/{id}/links"), "issues": []});
        x["testCycle"] =
            json!({"id": ids::TEST_CYCLE, "self": format!("{api}/testcycles/{}", ids::TEST_CYCLE)});
        let case_key = if j == ORPHAN {
            self.deleted_case_key()
        } else {
            x["comment"] = json!("<p>Checked by Zoë 👍 \u{200F}✓\0</p><script>steal()</script>");
            x["testExecutionStatus"] = json!({"id": 3033, "self": format!("{api}/statuses/3033")});
            self.test_case_key(self.case_base() + UNICODE)
        };
        x["testCase"] = json!({"id": 1, "self": format!("{api}/testcases/{case_key}/versions/1")});
        x
    }

    /// The planted execution index `j` of an id or key, if it names one.
    pub(crate) fn hostile_execution_of(&self, id_or_key: &str) -> Option<u64> {
        let base = self.layout.executions;
        (0..EXTRA_EXECUTIONS).find(|&j| {
            self.execution_key(base + j) == id_or_key
                || (ids::EXECUTION + (base + j) as i64).to_string() == id_or_key
        })
    }

    /// Step results of planted execution `j`.
    pub(crate) fn hostile_execution_steps(&self, j: u64, api: &str) -> Vec<Value> {
        if j != UNICODE_EXECUTION {
            return Vec::new();
        }
        self.hostile_steps(UNICODE)
            .into_iter()
            .enumerate()
            .map(|(s, step)| {
                let mut inline = step["inline"].clone();
                inline["actualResult"] = json!(format!("<p>ok\0 ✓ {}</p>", s + 1));
                inline["testDataRowNumber"] = Value::Null;
                inline["status"] = json!({"id": 3033, "self": format!("{api}/statuses/3033")});
                if let Some(o) = inline.as_object_mut() {
                    o.remove("customFields");
                }
                json!({"id": 9_100_000_000i64 + s as i64, "inline": inline})
            })
            .collect()
    }
}

/// Whether hostile mode serves this request's list (no filter given).
pub(crate) fn serves(state: &ZephyrState, ctx: &Ctx, filters: &[&str]) -> bool {
    state.is_hostile() && filters.iter().all(|f| ctx.param(f).is_none())
}

/// 404 for a planted key with no such sub-resource.
pub(crate) fn not_found(what: &str) -> MockError {
    MockError::not_found(format!("'{what}' exists but has no attachment metadata"))
}
