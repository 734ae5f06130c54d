//! Spec conformance for ztoq's mocks and clients: checks recorded HTTP exchanges
//! ([`ztoq_mock::recorder::Exchange`]) against the vendors' own API descriptions, the Zephyr
//! Scale Cloud v2 OpenAPI 3.0 file and the qTest Manager v3 Swagger 2.0 file (copies under
//! `specs/`, embedded at compile time, so no network is ever needed).
//!
//! Why: the mocks are only worth testing against if they speak the real contract, and the
//! clients only work against the real servers if what they send is what the vendor documents.
//! One recorded run of the clients against the mocks, checked here, covers both directions.
//!
//! What is checked, per exchange: the operation exists (method + path template, literal segments
//! preferred); path, query, header and form parameters (declared, required, typed); the JSON
//! request body against its schema; the status is declared (error statuses ≥ 400 may be
//! undeclared but must carry a JSON body); the JSON response body against the schema declared
//! for its status. Binary content (attachments) is checked for status only.
//!
//! Leniency, deliberately limited (the project's Zephyr API notes, §2.3 "Nulls and
//! optionality"): in the Zephyr spec, which never says `nullable`, every non-required property
//! also accepts `null`, as do a folder's `parentId` and a cursor page's `nextStartAtId`;
//! custom-field values may be any JSON value.
//! The qTest spec is enforced as written, `required` lists included.
#![warn(missing_docs)]

mod check;
mod load;
mod paths;
mod schema;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use jsonschema::{Draft, Validator};
use serde_json::{Map, Value, json};
use ztoq_mock::recorder::Exchange;

use crate::load::{Dialect, Operation};
use crate::schema::NullPolicy;

const ZEPHYR_SPEC: &str = include_str!("../specs/zephyr-scale-v2.openapi.yml");
const ZEPHYR_ADDITIONS: &str = include_str!("../specs/zephyr-scale-v2-2026-additions.openapi.yml");
const QTEST_SPEC: &str = include_str!("../specs/qtest-manager-v3.swagger.yaml");

/// Why a spec could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The YAML did not parse.
    #[error("spec is not valid YAML: {0}")]
    Yaml(#[from] serde_yaml::Error),
    /// The document parsed but is not a usable OpenAPI/Swagger description.
    #[error("spec is not usable: {0}")]
    Invalid(String),
}

/// A loaded vendor spec, ready to check exchanges.
pub struct Spec {
    name: &'static str,
    dialect: Dialect,
    /// Path prefix of the server (`/v2` for Zephyr), stripped before matching when present.
    base_path: String,
    operations: Vec<Operation>,
    /// The converted named schemas, placed where the `$ref`s point (`components.schemas` or
    /// `definitions`), merged into every schema compiled.
    definitions: Map<String, Value>,
    validators: Mutex<HashMap<String, Arc<Validator>>>,
}

/// Adds the additions' paths and component schemas to `doc`; either already present is an error.
fn merge_additions(doc: &mut Value, additions: &Value) -> Result<(), Error> {
    for pointer in ["/paths", "/components/schemas"] {
        let target = doc
            .pointer_mut(pointer)
            .and_then(Value::as_object_mut)
            .ok_or_else(|| Error::Invalid(format!("zephyr spec lacks {pointer}")))?;
        for (key, value) in additions
            .pointer(pointer)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if target.insert(key.clone(), value.clone()).is_some() {
                return Err(Error::Invalid(format!(
                    "zephyr addition {key} is already in the spec"
                )));
            }
        }
    }
    Ok(())
}

impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spec")
            .field("name", &self.name)
            .field("base_path", &self.base_path)
            .field("operations", &self.operations.len())
            .finish_non_exhaustive()
    }
}

impl Spec {
    /// The Zephyr Scale Cloud v2 spec (OpenAPI 3.0.3), plus the 2026 operations ztoq uses that
    /// the vendored 2025 file lacks (NextGen lists, attachment reads; see
    /// `specs/zephyr-scale-v2-2026-additions.openapi.yml`).
    pub fn zephyr() -> Result<Spec, Error> {
        let mut doc = load::yaml_to_json(serde_yaml::from_str(ZEPHYR_SPEC)?)?;
        let additions = load::yaml_to_json(serde_yaml::from_str(ZEPHYR_ADDITIONS)?)?;
        merge_additions(&mut doc, &additions)?;
        let policy = NullPolicy {
            optional_nullable: true,
            required_nullable: &[("Folder", "parentId"), ("CursorPagedList", "nextStartAtId")],
            any_value_maps: &["CustomFields"],
        };
        let base_path = doc
            .pointer("/servers/0/url")
            .and_then(Value::as_str)
            .and_then(|url| url::Url::parse(url).ok())
            .map(|url| url.path().trim_end_matches('/').to_string())
            .unwrap_or_default();
        Self::build("zephyr", doc, Dialect::OpenApi3, base_path, &policy)
    }

    /// The qTest Manager v3 spec (Swagger 2.0), enforced as written.
    pub fn qtest() -> Result<Spec, Error> {
        let doc = load::yaml_to_json(serde_yaml::from_str(QTEST_SPEC)?)?;
        let policy = NullPolicy {
            optional_nullable: false,
            required_nullable: &[],
            any_value_maps: &[],
        };
        let base_path = doc
            .get("basePath")
            .and_then(Value::as_str)
            .unwrap_or("/")
            .trim_end_matches('/')
            .to_string();
        Self::build("qtest", doc, Dialect::Swagger2, base_path, &policy)
    }

    fn build(
        name: &'static str,
        doc: Value,
        dialect: Dialect,
        base_path: String,
        policy: &NullPolicy,
    ) -> Result<Spec, Error> {
        let operations = load::operations(&doc, dialect, policy)?;
        let definitions = load::definitions(&doc, dialect, policy);
        Ok(Spec {
            name,
            dialect,
            base_path,
            operations,
            definitions,
            validators: Mutex::new(HashMap::new()),
        })
    }

    /// The operationIds of every operation in the spec.
    pub fn operation_ids(&self) -> Vec<String> {
        self.operations.iter().map(|op| op.id.clone()).collect()
    }

    /// Finds the operation by method and concrete path (no query string). Paths may carry the
    /// server's base path (`/v2/testcases`) or not (`/testcases`); where several templates match,
    /// the one with literal segments earliest wins (`/testcases/nextgen` over
    /// `/testcases/{testCaseKey}`).
    pub fn operation_id(&self, method: &str, path: &str) -> Option<String> {
        self.find(method, path).map(|(op, _)| op.id.clone())
    }

    /// Validates one exchange; `Ok(operationId)` when it conforms, otherwise every violation,
    /// each naming the operation, the part of the exchange and a JSON pointer.
    pub fn validate(&self, exchange: &Exchange) -> Result<String, Vec<String>> {
        let Some((op, path_params)) = self.find(&exchange.method, &exchange.path) else {
            return Err(vec![format!(
                "{}: no operation for {} {}",
                self.name, exchange.method, exchange.path
            )]);
        };
        let mut violations = Vec::new();
        self.check_request(op, &path_params, exchange, &mut violations);
        self.check_response(op, exchange, &mut violations);
        if violations.is_empty() {
            Ok(op.id.clone())
        } else {
            let prefix = format!(
                "{} {} {} ({} {})",
                self.name, exchange.method, exchange.path, op.id, op.template.raw
            );
            Err(violations
                .into_iter()
                .map(|v| format!("{prefix}: {v}"))
                .collect())
        }
    }

    fn find(&self, method: &str, path: &str) -> Option<(&Operation, Vec<(String, String)>)> {
        let mut candidates = vec![path];
        if !self.base_path.is_empty()
            && let Some(rest) = path.strip_prefix(&self.base_path)
            && (rest.is_empty() || rest.starts_with('/'))
        {
            candidates.insert(0, rest);
        }
        for candidate in candidates {
            let best = self
                .operations
                .iter()
                .filter(|op| op.method.eq_ignore_ascii_case(method))
                .filter_map(|op| op.template.matches(candidate).map(|params| (op, params)))
                .max_by_key(|(op, _)| op.template.specificity());
            if best.is_some() {
                return best;
            }
        }
        None
    }

    /// Compiles (once) the schema `schema` under the cache key `key`, with the spec's named
    /// schemas placed where its `$ref`s point.
    fn validator(&self, key: &str, schema: &Value) -> Result<Arc<Validator>, String> {
        let mut cache = self
            .validators
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(validator) = cache.get(key) {
            return Ok(validator.clone());
        }
        let mut root = json!({ "allOf": [schema] });
        let definitions = Value::Object(self.definitions.clone());
        match self.dialect {
            Dialect::OpenApi3 => root["components"] = json!({ "schemas": definitions }),
            Dialect::Swagger2 => root["definitions"] = definitions,
        }
        let validator = jsonschema::options()
            .with_draft(Draft::Draft4)
            .should_validate_formats(true)
            .build(&root)
            .map_err(|e| format!("schema for {key} does not compile: {e}"))?;
        let validator = Arc::new(validator);
        cache.insert(key.to_string(), validator.clone());
        Ok(validator)
    }

    /// Validates `instance` against `schema`, pushing one violation per error.
    fn check_value(
        &self,
        key: &str,
        what: &str,
        schema: &Value,
        instance: &Value,
        out: &mut Vec<String>,
    ) {
        match self.validator(key, schema) {
            Ok(validator) => {
                for error in validator.iter_errors(instance) {
                    let pointer = error.instance_path.to_string();
                    let pointer = if pointer.is_empty() {
                        "/".to_string()
                    } else {
                        pointer
                    };
                    out.push(format!("{what} at {pointer}: {error}"));
                }
            }
            Err(message) => out.push(message),
        }
    }
}
