//! Reads a vendor spec (OpenAPI 3.0 or Swagger 2.0, YAML) into the flat list of operations the
//! checker needs: method, path template, parameters, request body and declared responses, with
//! every schema already converted to JSON Schema by [`crate::schema`].

use serde_json::{Map, Value};

use crate::Error;
use crate::paths::Template;
use crate::schema::{NullPolicy, convert, convert_named};

/// Which dialect the document is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// OpenAPI 3.0: `requestBody.content`, `responses[c].content[mt].schema`, `#/components/schemas`.
    OpenApi3,
    /// Swagger 2.0: `in: body` parameters, `responses[c].schema`, `#/definitions`.
    Swagger2,
}

/// Where a parameter travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum In {
    Path,
    Query,
    Header,
    Form,
}

/// A non-body parameter with its converted schema.
#[derive(Clone, Debug)]
pub(crate) struct Param {
    pub name: String,
    pub location: In,
    pub required: bool,
    pub schema: Value,
}

/// What the operation accepts as a request body.
#[derive(Clone, Debug)]
pub(crate) enum Body {
    /// No body declared.
    None,
    /// A JSON body with this schema.
    Json { schema: Value, required: bool },
    /// `application/x-www-form-urlencoded`, described by the `In::Form` parameters.
    Form,
    /// Raw bytes (uploads) or a media type this checker does not parse.
    Opaque,
}

/// What a declared response carries.
#[derive(Clone, Debug)]
pub(crate) enum Reply {
    /// No body declared.
    None,
    /// A JSON body with this schema.
    Json(Value),
    /// Binary content (attachments): only the status is checked.
    Binary,
}

/// One operation of the spec.
#[derive(Clone, Debug)]
pub(crate) struct Operation {
    pub id: String,
    pub method: String,
    pub template: Template,
    pub params: Vec<Param>,
    pub body: Body,
    /// Keyed by `"200"`, `"4XX"` or `"default"`.
    pub responses: Vec<(String, Reply)>,
}

/// Converts YAML into JSON, turning non-string map keys (`200:`) into strings.
pub(crate) fn yaml_to_json(yaml: serde_yaml::Value) -> Result<Value, Error> {
    Ok(match yaml {
        serde_yaml::Value::Null => Value::Null,
        serde_yaml::Value::Bool(b) => Value::Bool(b),
        serde_yaml::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64().map(Value::from).unwrap_or(Value::Null)
            }
        }
        serde_yaml::Value::String(s) => Value::String(s),
        serde_yaml::Value::Sequence(items) => Value::Array(
            items
                .into_iter()
                .map(yaml_to_json)
                .collect::<Result<_, _>>()?,
        ),
        serde_yaml::Value::Mapping(map) => {
            let mut out = Map::new();
            for (key, value) in map {
                let key = match key {
                    serde_yaml::Value::String(s) => s,
                    serde_yaml::Value::Number(n) => n.to_string(),
                    serde_yaml::Value::Bool(b) => b.to_string(),
                    other => return Err(Error::Invalid(format!("unsupported map key {other:?}"))),
                };
                out.insert(key, yaml_to_json(value)?);
            }
            Value::Object(out)
        }
        serde_yaml::Value::Tagged(tagged) => yaml_to_json(tagged.value)?,
    })
}

/// Follows local `$ref`s (`#/…`) until a non-reference object is reached.
pub(crate) fn deref<'a>(doc: &'a Value, mut value: &'a Value) -> Result<&'a Value, Error> {
    for _ in 0..16 {
        let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
            return Ok(value);
        };
        let pointer = reference
            .strip_prefix('#')
            .ok_or_else(|| Error::Invalid(format!("non-local $ref {reference}")))?;
        value = doc
            .pointer(pointer)
            .ok_or_else(|| Error::Invalid(format!("unresolvable $ref {reference}")))?;
    }
    Err(Error::Invalid("$ref chain too long".into()))
}

/// The converted named schemas (`components.schemas` or `definitions`).
pub(crate) fn definitions(
    doc: &Value,
    dialect: Dialect,
    policy: &NullPolicy,
) -> Map<String, Value> {
    let source = match dialect {
        Dialect::OpenApi3 => doc.pointer("/components/schemas"),
        Dialect::Swagger2 => doc.get("definitions"),
    };
    source
        .and_then(Value::as_object)
        .map(|schemas| {
            schemas
                .iter()
                .map(|(name, schema)| (name.clone(), convert_named(name, schema, policy)))
                .collect()
        })
        .unwrap_or_default()
}

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];

/// Every operation of the document.
pub(crate) fn operations(
    doc: &Value,
    dialect: Dialect,
    policy: &NullPolicy,
) -> Result<Vec<Operation>, Error> {
    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::Invalid("the spec has no paths".into()))?;
    let global_consumes = doc.get("consumes");
    let mut out = Vec::new();
    for (raw_path, item) in paths {
        let item = deref(doc, item)?;
        let shared = item
            .get("parameters")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for method in METHODS {
            let Some(op) = item.get(*method) else {
                continue;
            };
            let id = op
                .get("operationId")
                .and_then(Value::as_str)
                .map_or_else(|| format!("{method} {raw_path}"), str::to_string);
            let mut raw_params: Vec<&Value> = Vec::new();
            let own = op.get("parameters").and_then(Value::as_array);
            for p in own.into_iter().flatten().chain(&shared) {
                let p = deref(doc, p)?;
                let key = (p.get("name"), p.get("in"));
                if !raw_params
                    .iter()
                    .any(|q| (q.get("name"), q.get("in")) == key)
                {
                    raw_params.push(p);
                }
            }
            let mut params = Vec::new();
            let mut body = Body::None;
            for p in raw_params {
                let name = p
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let required = p.get("required").and_then(Value::as_bool).unwrap_or(false);
                let location = match p.get("in").and_then(Value::as_str) {
                    Some("path") => In::Path,
                    Some("query") => In::Query,
                    Some("header") => In::Header,
                    Some("formData") => In::Form,
                    Some("body") => {
                        body = swagger_body(p.get("schema"), required, policy);
                        continue;
                    }
                    _ => continue, // cookies
                };
                let schema = match dialect {
                    Dialect::OpenApi3 => {
                        convert(p.get("schema").unwrap_or(&Value::Null), policy, None)
                    }
                    Dialect::Swagger2 => convert(&swagger_param_schema(p), policy, None),
                };
                params.push(Param {
                    name,
                    location,
                    required,
                    schema,
                });
            }
            if dialect == Dialect::OpenApi3 {
                body = openapi_body(doc, op.get("requestBody"), policy)?;
            } else if params.iter().any(|p| p.location == In::Form) {
                body = Body::Form;
            } else if let Body::Json { .. } = body {
                let consumes = op.get("consumes").or(global_consumes);
                let json = consumes.and_then(Value::as_array).is_none_or(|types| {
                    types
                        .iter()
                        .filter_map(Value::as_str)
                        .any(|t| t.contains("json"))
                });
                if !json {
                    body = Body::Opaque;
                }
            }
            let mut responses = Vec::new();
            for (code, reply) in op
                .get("responses")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                let reply = deref(doc, reply)?;
                responses.push((code.clone(), response(dialect, reply, policy)));
            }
            out.push(Operation {
                id,
                method: method.to_ascii_uppercase(),
                template: Template::parse(raw_path),
                params,
                body,
                responses,
            });
        }
    }
    Ok(out)
}

/// Swagger puts a non-body parameter's schema keywords on the parameter itself.
fn swagger_param_schema(param: &Value) -> Value {
    let mut schema = param.as_object().cloned().unwrap_or_default();
    for key in [
        "name",
        "in",
        "description",
        "required",
        "collectionFormat",
        "allowEmptyValue",
    ] {
        schema.remove(key);
    }
    Value::Object(schema)
}

fn is_binary(schema: &Value) -> bool {
    let kind = schema.get("type").and_then(Value::as_str);
    kind == Some("file")
        || (kind == Some("string")
            && schema.get("format").and_then(Value::as_str) == Some("binary"))
}

fn swagger_body(schema: Option<&Value>, required: bool, policy: &NullPolicy) -> Body {
    match schema {
        Some(schema) if is_binary(schema) => Body::Opaque,
        Some(schema) => Body::Json {
            schema: convert(schema, policy, None),
            required,
        },
        None => Body::Opaque,
    }
}

fn openapi_body(doc: &Value, body: Option<&Value>, policy: &NullPolicy) -> Result<Body, Error> {
    let Some(body) = body else {
        return Ok(Body::None);
    };
    let body = deref(doc, body)?;
    let required = body
        .get("required")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let content = body.get("content").and_then(Value::as_object);
    let json = content.and_then(|c| c.iter().find(|(media, _)| media.contains("json")));
    Ok(match json {
        Some((_, media)) => match media.get("schema") {
            Some(schema) => Body::Json {
                schema: convert(schema, policy, None),
                required,
            },
            None => Body::Opaque,
        },
        None => Body::Opaque,
    })
}

fn response(dialect: Dialect, reply: &Value, policy: &NullPolicy) -> Reply {
    match dialect {
        Dialect::Swagger2 => match reply.get("schema") {
            Some(schema) if is_binary(schema) => Reply::Binary,
            Some(schema) => Reply::Json(convert(schema, policy, None)),
            None => Reply::None,
        },
        Dialect::OpenApi3 => {
            let Some(content) = reply.get("content").and_then(Value::as_object) else {
                return Reply::None;
            };
            match content.iter().find(|(media, _)| media.contains("json")) {
                Some((_, media)) => match media.get("schema") {
                    Some(schema) => Reply::Json(convert(schema, policy, None)),
                    None => Reply::None,
                },
                None if content.is_empty() => Reply::None,
                None => Reply::Binary,
            }
        }
    }
}
