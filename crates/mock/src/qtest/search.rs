//! `POST …/search`: the subset of qTest's Data Query that ztoq needs, answered from the store's
//! indexes.
//!
//! Accepted grammar (anything else is a 400 with a message):
//! ```text
//! query  := clause ( " and " clause )*        -- "and" in any case; empty query = everything
//! clause := field "=" value                   -- spaces around "=" optional
//! field  := 'Label With Spaces' | Word        -- a field label (any case), Name, Id, or a field id
//! value  := 'text'                            -- single quotes; a quote inside is doubled: 'it''s'
//! ```
//! `Name` matches the object's name exactly (case-sensitive), `Id` its `pid` (`TC-12`, `TR-5`,
//! `CL-2`) or numeric id, any other field its stored value; for a single-choice field the value
//! may be the choice's label (`'Priority' = 'High'`) or its id. Object types: `test-cases`,
//! `test-runs` and `test-cycles` (name and id only); `releases`, `requirements`, `builds`,
//! `defects` and `test-suites` answer an empty page (the mock holds none); others are a 400.

use super::QtestState;
use super::error::{MockError, MockResult, PageRequest, bool_param, parse_body};
use super::routes_design::{Params, check_project, render};
use super::routes_exec::paged;
use super::state::{Kind, PropVal, Store};
use super::wire::{PagedOut, SearchIn};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// One `field = 'value'` as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Clause {
    pub field: String,
    pub value: String,
}

/// Parses the accepted Data Query subset.
pub(crate) fn parse_query(query: &str) -> Result<Vec<Clause>, String> {
    let mut p = Parser { s: query, pos: 0 };
    let mut clauses = Vec::new();
    p.skip_ws();
    if p.at_end() {
        return Ok(clauses);
    }
    loop {
        clauses.push(p.clause()?);
        p.skip_ws();
        if p.at_end() {
            return Ok(clauses);
        }
        let word = p.bare_word();
        if !word.eq_ignore_ascii_case("and") {
            return Err(format!(
                "expected 'and' at position {} of the query, found '{}'",
                p.pos,
                p.rest_preview()
            ));
        }
        p.skip_ws();
    }
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.s[self.pos..]
    }

    fn rest_preview(&self) -> String {
        self.rest().chars().take(20).collect()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.s.len() - trimmed.len();
    }

    fn bare_word(&mut self) -> &str {
        let start = self.pos;
        let len = self
            .rest()
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(self.rest().len());
        self.pos += len;
        &self.s[start..self.pos]
    }

    /// A single-quoted string with `''` as an escaped quote.
    fn quoted(&mut self) -> Result<String, String> {
        let start = self.pos;
        if !self.rest().starts_with('\'') {
            return Err(format!(
                "expected a single-quoted value at position {start}, found '{}'",
                self.rest_preview()
            ));
        }
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(i) = self.rest().find('\'') else {
                return Err(format!("unterminated quote starting at position {start}"));
            };
            out.push_str(&self.rest()[..i]);
            self.pos += i + 1;
            if self.rest().starts_with('\'') {
                out.push('\'');
                self.pos += 1;
            } else {
                return Ok(out);
            }
        }
    }

    fn clause(&mut self) -> Result<Clause, String> {
        let field = if self.rest().starts_with('\'') {
            self.quoted()?
        } else {
            let w = self.bare_word().to_string();
            if w.is_empty() {
                return Err(format!(
                    "expected a field at position {}, found '{}'",
                    self.pos,
                    self.rest_preview()
                ));
            }
            w
        };
        self.skip_ws();
        if !self.rest().starts_with('=') || self.rest().starts_with("==") {
            return Err(format!(
                "unsupported operator at position {} (the mock accepts only '='), found '{}'",
                self.pos,
                self.rest_preview()
            ));
        }
        self.pos += 1;
        self.skip_ws();
        let value = self.quoted()?;
        Ok(Clause { field, value })
    }
}

/// A clause resolved against an object type.
enum Criterion {
    Name(String),
    Id(Option<i64>),
    Prop(i64, String),
}

fn kind_of(object_type: &str) -> Option<(Kind, &'static str, &'static str)> {
    match object_type {
        "test-cases" => Some((Kind::Case, "test-cases", "TC")),
        "test-runs" => Some((Kind::Run, "test-runs", "TR")),
        "test-cycles" => Some((Kind::Cycle, "", "CL")),
        _ => None,
    }
}

fn resolve(
    store: &Store,
    kind: Kind,
    fields_type: &str,
    prefix: &str,
    clause: Clause,
) -> MockResult<Criterion> {
    let f = clause.field.trim();
    if f.eq_ignore_ascii_case("name") {
        return Ok(Criterion::Name(clause.value));
    }
    if f.eq_ignore_ascii_case("id") || f.eq_ignore_ascii_case("pid") {
        let v = clause.value.trim();
        let id = match v.split_once('-') {
            Some((p, n)) if p.eq_ignore_ascii_case(prefix) => {
                n.parse::<u32>().ok().and_then(|n| match kind {
                    Kind::Case => store.case_by_pid(n),
                    Kind::Run => store.run_by_pid(n),
                    Kind::Cycle => store.cycle_by_pid(n),
                })
            }
            _ => v.parse::<i64>().ok(),
        };
        return Ok(Criterion::Id(id));
    }
    let fields = if fields_type.is_empty() {
        &[][..]
    } else {
        store.fields_of(fields_type)?
    };
    let field = match f.parse::<i64>() {
        Ok(id) => fields.iter().find(|x| x.id == id),
        Err(_) => fields.iter().find(|x| x.label.eq_ignore_ascii_case(f)),
    };
    let field =
        field.ok_or_else(|| MockError::bad_request(format!("Unknown field '{f}' in query")))?;
    Ok(Criterion::Prop(field.id, field.query_value(&clause.value)))
}

fn name_and_props(store: &Store, kind: Kind, id: i64) -> Option<(&str, &[PropVal])> {
    match kind {
        Kind::Case => store.cases.get(&id).map(|c| (&*c.name, c.props.as_slice())),
        Kind::Run => store.runs.get(&id).map(|r| (&*r.name, r.props.as_slice())),
        Kind::Cycle => store.cycles.get(&id).map(|c| (&*c.name, &[][..])),
    }
}

fn matches(store: &Store, kind: Kind, id: i64, c: &Criterion) -> bool {
    let Some((name, props)) = name_and_props(store, kind, id) else {
        return false;
    };
    match c {
        Criterion::Name(n) => name == n,
        Criterion::Id(x) => *x == Some(id),
        Criterion::Prop(f, v) => props.iter().any(|p| p.field == *f && &*p.value == v),
    }
}

/// Ids matching every criterion, ascending. Candidates come from the most selective indexed
/// criterion (or every object when none is indexed), then every criterion is checked on them.
fn evaluate(store: &Store, kind: Kind, criteria: &[Criterion]) -> Vec<i64> {
    let candidates = criteria
        .iter()
        .filter_map(|c| match c {
            Criterion::Name(n) => Some(store.by_name(kind, n).to_vec()),
            Criterion::Id(id) => Some(id.iter().copied().collect()),
            Criterion::Prop(f, v) if store.indexed(kind, *f) => {
                Some(store.by_prop(kind, *f, v).to_vec())
            }
            Criterion::Prop(..) => None,
        })
        .min_by_key(Vec::len);
    let mut ids = candidates.unwrap_or_else(|| match kind {
        Kind::Case => store.case_ids.clone(),
        Kind::Run => store.run_ids.clone(),
        Kind::Cycle => store.cycle_ids.clone(),
    });
    ids.retain(|&id| criteria.iter().all(|c| matches(store, kind, id, c)));
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// `POST …/search?page=&pageSize=&appendTestSteps=` (paged wrapper of full resources).
pub(crate) async fn search(
    State(state): State<Arc<QtestState>>,
    Path(project): Path<i64>,
    Query(params): Params,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> MockResult<Response> {
    check_project(&state, project)?;
    let page = PageRequest::from_params(&params, "pageSize", 100, 999)?;
    let steps = bool_param(&params, "appendTestSteps", false)?;
    let body: SearchIn = parse_body(&body)?;
    let object_type = body
        .object_type
        .ok_or_else(|| MockError::bad_request("object_type is required"))?;
    let Some((kind, fields_type, prefix)) = kind_of(&object_type) else {
        if [
            "releases",
            "requirements",
            "builds",
            "defects",
            "test-suites",
        ]
        .contains(&object_type.as_str())
        {
            let empty: Vec<serde_json::Value> = Vec::new();
            return Ok(Json(paged(&headers, &uri, page, 0, empty)).into_response());
        }
        return Err(MockError::bad_request(format!(
            "Unsupported object_type '{object_type}'"
        )));
    };
    let clauses = parse_query(body.query.as_deref().unwrap_or(""))
        .map_err(|e| MockError::bad_request(format!("Invalid query: {e}")))?;
    let store = state.read();
    let criteria = clauses
        .into_iter()
        .map(|c| resolve(&store, kind, fields_type, prefix, c))
        .collect::<MockResult<Vec<_>>>()?;
    let ids = evaluate(&store, kind, &criteria);
    let on_page = page.slice(&ids);
    let r = render(&state, &store);
    let total = ids.len();
    Ok(match kind {
        Kind::Case => {
            let items = on_page
                .iter()
                .filter_map(|id| store.cases.get(id))
                .map(|c| r.case(c, steps, true))
                .collect();
            Json::<PagedOut<_>>(paged(&headers, &uri, page, total, items)).into_response()
        }
        Kind::Run => {
            let items = on_page
                .iter()
                .filter_map(|id| store.runs.get(id))
                .map(|x| r.run(x))
                .collect();
            Json::<PagedOut<_>>(paged(&headers, &uri, page, total, items)).into_response()
        }
        Kind::Cycle => {
            let items = on_page
                .iter()
                .filter_map(|id| store.cycles.get(id))
                .map(|c| r.cycle(c, false))
                .collect();
            Json::<PagedOut<_>>(paged(&headers, &uri, page, total, items)).into_response()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(field: &str, value: &str) -> Clause {
        Clause {
            field: field.into(),
            value: value.into(),
        }
    }

    #[test]
    fn parses_the_accepted_subset() {
        assert_eq!(parse_query("").unwrap(), vec![]);
        assert_eq!(
            parse_query("'Zephyr Key' = 'P-T1'").unwrap(),
            vec![c("Zephyr Key", "P-T1")]
        );
        assert_eq!(
            parse_query("Name='it''s' AND Id = 'TC-12'").unwrap(),
            vec![c("Name", "it's"), c("Id", "TC-12")]
        );
        assert_eq!(
            parse_query("  name = ''''  ").unwrap(),
            vec![c("name", "'")]
        );
        assert_eq!(
            parse_query("Name = 'a and b'").unwrap(),
            vec![c("Name", "a and b")]
        );
    }

    #[test]
    fn rejects_the_rest() {
        for bad in [
            "Name ~ 'x'",
            "Name = x",
            "Name = 'x",
            "'Name' = 'x' or Id = 'TC-1'",
            "= 'x'",
            "Name = 'x' and",
            "Name == 'x'",
        ] {
            assert!(parse_query(bad).is_err(), "{bad}");
        }
    }
}
