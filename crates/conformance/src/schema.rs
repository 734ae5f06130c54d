//! Turns OpenAPI 3.0 / Swagger 2.0 schema objects into JSON Schema (draft 4) that `jsonschema`
//! can compile, applying the leniency rules that make the check honest against real payloads.
//!
//! The walk is schema-aware: it only descends through keywords that hold sub-schemas
//! (`properties`, `items`, `additionalProperties`, `allOf`/`anyOf`/`oneOf`, `not`), so a
//! property that happens to be called `example` or `nullable` is never mistaken for a keyword.
//! `$ref`s are kept as written (`#/components/schemas/X`, `#/definitions/X`); the caller puts the
//! converted definitions at the same place in the document it compiles.

use serde_json::{Map, Value, json};

/// How lenient the conversion is about `null`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NullPolicy {
    /// Every property not in its object's `required` list also accepts `null` (Zephyr: the spec
    /// never says `nullable`, real payloads carry `null` for absent optional values).
    pub optional_nullable: bool,
    /// `(schema name, property)` pairs that accept `null` although required.
    pub required_nullable: &'static [(&'static str, &'static str)],
    /// Component schemas whose `additionalProperties` accept any JSON value (custom fields).
    pub any_value_maps: &'static [&'static str],
}

/// Keywords OpenAPI/Swagger add that JSON Schema does not know or that must not be walked.
const DROPPED: &[&str] = &[
    "example",
    "examples",
    "nullable",
    "xml",
    "externalDocs",
    "discriminator",
    "readOnly",
    "writeOnly",
    "deprecated",
];

/// Converts the named component schema `name` (so name-based rules apply).
pub(crate) fn convert_named(name: &str, schema: &Value, policy: &NullPolicy) -> Value {
    let mut converted = convert(schema, policy, Some(name));
    if policy.any_value_maps.contains(&name)
        && let Some(object) = converted.as_object_mut()
    {
        object.insert("additionalProperties".into(), Value::Bool(true));
    }
    converted
}

/// Converts an anonymous schema (request body, response, parameter).
pub(crate) fn convert(schema: &Value, policy: &NullPolicy, name: Option<&str>) -> Value {
    let Some(object) = schema.as_object() else {
        return schema.clone();
    };
    if let Some(reference) = object.get("$ref") {
        // OpenAPI 3.0 and Swagger 2.0 ignore the siblings of `$ref`.
        return json!({ "$ref": reference });
    }
    let explicit_nullable = object.get("nullable").and_then(Value::as_bool) == Some(true);
    let required: Vec<&str> = object
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut out = Map::new();
    for (key, value) in object {
        if DROPPED.contains(&key.as_str()) || key.starts_with("x-") {
            continue;
        }
        let converted = match key.as_str() {
            "properties" => Value::Object(convert_properties(value, &required, policy, name)),
            "items" | "not" => convert(value, policy, None),
            "additionalProperties" if value.is_object() => convert(value, policy, None),
            "allOf" | "anyOf" | "oneOf" => match value.as_array() {
                Some(list) => list.iter().map(|s| convert(s, policy, None)).collect(),
                None => value.clone(),
            },
            // Swagger's `type: file` (a raw upload) is not JSON: leave it unconstrained.
            "type" if value == "file" => continue,
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }
    let out = Value::Object(out);
    if explicit_nullable {
        nullable(out)
    } else {
        out
    }
}

fn convert_properties(
    properties: &Value,
    required: &[&str],
    policy: &NullPolicy,
    owner: Option<&str>,
) -> Map<String, Value> {
    let Some(properties) = properties.as_object() else {
        return Map::new();
    };
    properties
        .iter()
        .map(|(property, schema)| {
            let converted = convert(schema, policy, None);
            let forced = owner.is_some_and(|owner| {
                policy
                    .required_nullable
                    .contains(&(owner, property.as_str()))
            });
            let optional = !required.contains(&property.as_str());
            let converted = if forced || (policy.optional_nullable && optional) {
                nullable(converted)
            } else {
                converted
            };
            (property.clone(), converted)
        })
        .collect()
}

/// `schema` or `null`, keeping error messages precise where the schema is a simple type.
pub(crate) fn nullable(schema: Value) -> Value {
    if let Value::Object(mut object) = schema {
        let simple_type = object
            .get("type")
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(kind) = simple_type
            && !object.contains_key("$ref")
        {
            object.insert("type".into(), json!([kind, "null"]));
            if let Some(Value::Array(values)) = object.get_mut("enum")
                && !values.contains(&Value::Null)
            {
                values.push(Value::Null);
            }
            return Value::Object(object);
        }
        return json!({ "anyOf": [Value::Object(object), { "type": "null" }] });
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    const LENIENT: NullPolicy = NullPolicy {
        optional_nullable: true,
        required_nullable: &[("Folder", "parentId")],
        any_value_maps: &["CustomFields"],
    };

    #[test]
    fn optional_properties_become_nullable_and_keywords_are_dropped() {
        let schema = json!({
            "type": "object", "required": ["id"], "example": {"id": 1},
            "properties": {
                "id": {"type": "integer", "example": 3},
                "name": {"type": "string"},
                "example": {"type": "string"},
                "kind": {"type": "string", "enum": ["A"]},
                "link": {"$ref": "#/components/schemas/Link", "description": "ignored"}
            }
        });
        let out = convert(&schema, &LENIENT, None);
        assert_eq!(out.get("example"), None);
        assert_eq!(out["properties"]["id"], json!({"type": "integer"}));
        assert_eq!(out["properties"]["name"]["type"], json!(["string", "null"]));
        assert_eq!(
            out["properties"]["example"]["type"],
            json!(["string", "null"]),
            "a property named example stays"
        );
        assert_eq!(out["properties"]["kind"]["enum"], json!(["A", null]));
        assert_eq!(
            out["properties"]["link"],
            json!({"anyOf": [{"$ref": "#/components/schemas/Link"}, {"type": "null"}]})
        );
    }

    #[test]
    fn name_based_rules() {
        let folder = json!({"type": "object", "required": ["parentId"], "properties": {"parentId": {"$ref": "#/x"}}});
        let out = convert_named("Folder", &folder, &LENIENT);
        assert!(out["properties"]["parentId"]["anyOf"].is_array());
        let fields = json!({"type": "object", "additionalProperties": {"type": "object"}});
        assert_eq!(
            convert_named("CustomFields", &fields, &LENIENT)["additionalProperties"],
            json!(true)
        );
    }
}
