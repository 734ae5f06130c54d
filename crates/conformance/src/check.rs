//! The per-exchange checks: parameters and request body against the operation, then the status
//! and response body against the declared responses.

use serde_json::Value;
use ztoq_mock::recorder::Exchange;

use crate::Spec;
use crate::load::{Body, In, Operation, Param, Reply};

impl Spec {
    pub(crate) fn check_request(
        &self,
        op: &Operation,
        path_params: &[(String, String)],
        exchange: &Exchange,
        out: &mut Vec<String>,
    ) {
        for (name, value) in path_params {
            if let Some(param) = op
                .params
                .iter()
                .find(|p| p.location == In::Path && &p.name == name)
            {
                self.check_param(op, param, &[value.as_str()], out);
            }
        }

        let query = pairs(exchange.query.as_deref().unwrap_or_default().as_bytes());
        self.check_pairs(op, In::Query, &query, "query parameter", out);

        for param in op.params.iter().filter(|p| p.location == In::Header) {
            // The recorder drops Authorization (it is a credential); nothing to check there.
            if param.name.eq_ignore_ascii_case("authorization") {
                continue;
            }
            match exchange.request_header(&param.name) {
                Some(value) => self.check_param(op, param, &[value], out),
                None if param.required => {
                    out.push(format!("request: required header {} missing", param.name))
                }
                None => {}
            }
        }

        let body = &exchange.request_body;
        let content_type = exchange.request_header("content-type").unwrap_or_default();
        match &op.body {
            Body::None if !body.is_empty() => {
                out.push(format!(
                    "request: body of {} bytes sent but none declared",
                    body.len()
                ));
            }
            Body::None | Body::Opaque => {}
            Body::Json { required, .. } if body.is_empty() => {
                if *required {
                    out.push("request: required JSON body missing".into());
                }
            }
            Body::Json { schema, .. } => {
                if !content_type.contains("json") {
                    out.push(format!(
                        "request: JSON body sent with Content-Type {content_type:?}"
                    ));
                }
                match serde_json::from_slice::<Value>(body) {
                    Ok(instance) => {
                        let key = format!("{} request", op.id);
                        self.check_value(&key, "request body", schema, &instance, out);
                    }
                    Err(e) => out.push(format!("request: body is not JSON: {e}")),
                }
            }
            Body::Form => {
                if !content_type.starts_with("application/x-www-form-urlencoded") {
                    out.push(format!(
                        "request: form body sent with Content-Type {content_type:?}"
                    ));
                }
                self.check_pairs(op, In::Form, &pairs(body), "form field", out);
            }
        }
    }

    pub(crate) fn check_response(
        &self,
        op: &Operation,
        exchange: &Exchange,
        out: &mut Vec<String>,
    ) {
        let status = exchange.status;
        let code = status.to_string();
        let range = format!("{}XX", status / 100);
        let declared = op
            .responses
            .iter()
            .find(|(c, _)| *c == code)
            .or_else(|| {
                op.responses
                    .iter()
                    .find(|(c, _)| c.eq_ignore_ascii_case(&range))
            })
            .or_else(|| {
                if status >= 400 {
                    op.responses.iter().find(|(c, _)| c == "default")
                } else {
                    None
                }
            });
        let what = format!("response {status} body");
        match declared.map(|(_, reply)| reply) {
            None if status < 400 => out.push(format!("response: status {status} is not declared")),
            // Undeclared error, or declared without a schema: the body must still be JSON.
            None | Some(Reply::None) if status >= 400 => {
                if let Err(e) = serde_json::from_slice::<Value>(&exchange.response_body) {
                    out.push(format!("{what} is not JSON: {e}"));
                }
            }
            None | Some(Reply::None) | Some(Reply::Binary) => {}
            Some(Reply::Json(schema)) => {
                let content_type = exchange
                    .response_content_type
                    .as_deref()
                    .unwrap_or_default();
                if !content_type.contains("json") {
                    out.push(format!(
                        "{what} has Content-Type {content_type:?}, not JSON"
                    ));
                }
                match serde_json::from_slice::<Value>(&exchange.response_body) {
                    Ok(instance) => {
                        let key = format!(
                            "{} response {}",
                            op.id,
                            declared.map_or("", |(c, _)| c.as_str())
                        );
                        self.check_value(&key, &what, schema, &instance, out);
                    }
                    Err(e) => out.push(format!("{what} is not JSON: {e}")),
                }
            }
        }
    }

    /// Query or form pairs: every declared required one present, every one present declared and
    /// valid.
    fn check_pairs(
        &self,
        op: &Operation,
        location: In,
        pairs: &[(String, String)],
        what: &str,
        out: &mut Vec<String>,
    ) {
        let declared: Vec<&Param> = op
            .params
            .iter()
            .filter(|p| p.location == location)
            .collect();
        for param in &declared {
            let values: Vec<&str> = pairs
                .iter()
                .filter(|(n, _)| *n == param.name)
                .map(|(_, v)| v.as_str())
                .collect();
            if values.is_empty() {
                if param.required {
                    out.push(format!("request: required {what} {} missing", param.name));
                }
            } else {
                self.check_param(op, param, &values, out);
            }
        }
        for (name, _) in pairs {
            if !declared.iter().any(|p| &p.name == name) {
                out.push(format!("request: {what} {name} is not declared"));
            }
        }
    }

    /// Validates a parameter's textual value(s), coerced to the declared type.
    fn check_param(&self, op: &Operation, param: &Param, values: &[&str], out: &mut Vec<String>) {
        let instance = coerce(&param.schema, values);
        let location = match param.location {
            In::Path => "path",
            In::Query => "query",
            In::Header => "header",
            In::Form => "form",
        };
        let key = format!("{} {location} {}", op.id, param.name);
        let what = format!("{location} parameter {}", param.name);
        self.check_value(&key, &what, &param.schema, &instance, out);
    }
}

/// `a=1&b=x%20y` → `[("a","1"), ("b","x y")]`.
fn pairs(text: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(text)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The JSON value a textual parameter stands for, given its schema's `type`: integers, numbers
/// and booleans are parsed (left as strings when they do not parse, so the type check reports
/// them); arrays are the repeated values or a comma-separated list.
fn coerce(schema: &Value, values: &[&str]) -> Value {
    let kind = schema_type(schema);
    if kind == Some("array") {
        let items = schema.get("items").unwrap_or(&Value::Null);
        let parts: Vec<&str> = if values.len() == 1 {
            values[0].split(',').collect()
        } else {
            values.to_vec()
        };
        return Value::Array(
            parts
                .into_iter()
                .map(|v| scalar(schema_type(items), v))
                .collect(),
        );
    }
    scalar(kind, values.first().copied().unwrap_or_default())
}

fn schema_type(schema: &Value) -> Option<&str> {
    match schema.get("type") {
        Some(Value::String(kind)) => Some(kind.as_str()),
        Some(Value::Array(kinds)) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|k| *k != "null"),
        _ => None,
    }
}

fn scalar(kind: Option<&str>, text: &str) -> Value {
    let parsed = match kind {
        Some("integer") => text.parse::<i64>().ok().map(Value::from),
        Some("number") => text.parse::<f64>().ok().map(Value::from),
        Some("boolean") => text.parse::<bool>().ok().map(Value::from),
        _ => None,
    };
    parsed.unwrap_or_else(|| Value::String(text.to_string()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn coercion_follows_the_declared_type() {
        assert_eq!(coerce(&json!({"type": "integer"}), &["12"]), json!(12));
        assert_eq!(coerce(&json!({"type": "integer"}), &["x"]), json!("x"));
        assert_eq!(
            coerce(&json!({"type": ["boolean", "null"]}), &["true"]),
            json!(true)
        );
        assert_eq!(
            coerce(
                &json!({"type": "array", "items": {"type": "integer"}}),
                &["1,2"]
            ),
            json!([1, 2])
        );
        assert_eq!(coerce(&json!({"type": "string"}), &["007"]), json!("007"));
    }

    #[test]
    fn query_pairs_are_decoded() {
        assert_eq!(
            pairs(b"a=1&b=x%20y+z"),
            vec![("a".into(), "1".into()), ("b".into(), "x y z".into())]
        );
    }
}
