//! Field settings per object type (seeded system fields plus custom fields created through the
//! API), the execution statuses, and the validation and display of property values against
//! them.
//!
//! Invariant: every stored property names a field of its object type and, for a constrained
//! field, only allowed value ids (`"711"`, or `"[711,712]"` when multiple).

use super::error::{MockError, MockResult};
use serde::{Deserialize, Serialize};

/// Object types that have field settings (the Swagger's enum).
pub const FIELD_OBJECT_TYPES: &[&str] = &[
    "releases",
    "builds",
    "requirements",
    "test-cases",
    "test-steps",
    "defects",
    "test-suites",
    "test-runs",
];

/// `AllowedValueResource` as stored and served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllowedValueDef {
    /// Value id.
    pub value: i64,
    /// Label.
    pub label: String,
    /// Display order.
    pub order: i64,
    /// Default choice.
    pub is_default: bool,
    /// Active.
    pub is_active: bool,
    /// Colour (statuses only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

/// `FieldResource` as stored and served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldDef {
    /// Field id.
    pub id: i64,
    /// Label.
    pub label: String,
    /// `Number`, `Date`, … (display only).
    pub attribute_type: String,
    /// Required.
    pub required: bool,
    /// Constrained to allowed values.
    pub constrained: bool,
    /// Order.
    pub order: i64,
    /// Multi-valued.
    pub multiple: bool,
    /// Data type code.
    pub data_type: i64,
    /// Searchable in Data Query.
    pub searchable: bool,
    /// Free-text searchable.
    pub free_text_search: bool,
    /// System field.
    pub system_field: bool,
    /// Original name.
    pub original_name: String,
    /// Active.
    pub is_active: bool,
    /// Allowed values (constrained fields).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_values: Vec<AllowedValueDef>,
}

impl FieldDef {
    /// The display of a stored value: the choice label(s) for constrained fields, else the value.
    pub fn value_name(&self, value: &str) -> String {
        if !self.constrained {
            return value.to_string();
        }
        if self.multiple {
            let labels: Vec<&str> = parse_multi(value)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|v| self.label_of(v))
                .collect();
            return format!("[{}]", labels.join(", "));
        }
        value
            .trim()
            .parse::<i64>()
            .ok()
            .and_then(|v| self.label_of(v))
            .unwrap_or(value)
            .to_string()
    }

    fn label_of(&self, value: i64) -> Option<&str> {
        self.allowed_values
            .iter()
            .find(|a| a.value == value)
            .map(|a| a.label.as_str())
    }

    /// Checks a value to store; constrained values must be active allowed value ids.
    pub fn check_value(&self, value: &str) -> MockResult<()> {
        if !self.constrained {
            if self.data_type == 7 && !value.is_empty() && value.trim().parse::<f64>().is_err() {
                return Err(MockError::bad_request(format!(
                    "Invalid number '{value}' for field {}",
                    self.label
                )));
            }
            return Ok(());
        }
        let ids = if self.multiple {
            parse_multi(value).ok_or_else(|| {
                MockError::bad_request(format!(
                    "Invalid value '{value}' for field {}: expected [id,…]",
                    self.label
                ))
            })?
        } else {
            vec![value.trim().parse::<i64>().map_err(|_| {
                MockError::bad_request(format!("Invalid value '{value}' for field {}", self.label))
            })?]
        };
        for id in ids {
            if !self
                .allowed_values
                .iter()
                .any(|a| a.value == id && a.is_active)
            {
                return Err(MockError::bad_request(format!(
                    "Invalid value '{id}' for field {}",
                    self.label
                )));
            }
        }
        Ok(())
    }

    /// Resolves a Data Query value: a choice label (case-insensitive) to its id, else itself.
    pub fn query_value(&self, value: &str) -> String {
        if self.constrained
            && !self.multiple
            && let Some(a) = self
                .allowed_values
                .iter()
                .find(|a| a.label.eq_ignore_ascii_case(value))
        {
            return a.value.to_string();
        }
        value.to_string()
    }
}

/// `"[1,2]"` → `[1, 2]`; `"[]"` → `[]`; anything else → `None`.
fn parse_multi(value: &str) -> Option<Vec<i64>> {
    let inner = value.trim().strip_prefix('[')?.strip_suffix(']')?;
    if inner.trim().is_empty() {
        return Some(Vec::new());
    }
    inner
        .split(',')
        .map(|s| s.trim().parse::<i64>().ok())
        .collect()
}

/// `StatusResource` as served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusDef {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Default.
    pub is_default: bool,
    /// Colour.
    pub color: String,
    /// Active.
    pub active: bool,
}

/// The stock execution statuses.
pub fn execution_statuses() -> Vec<StatusDef> {
    [
        (601, "Passed", "#6cc644"),
        (602, "Failed", "#e5403b"),
        (603, "Incomplete", "#f7b93b"),
        (604, "Blocked", "#7f8c8d"),
        (605, "Unexecuted", "#c0c0c0"),
    ]
    .into_iter()
    .map(|(id, name, color)| StatusDef {
        id,
        name: name.to_string(),
        is_default: id == 605,
        color: color.to_string(),
        active: true,
    })
    .collect()
}

/// The stock Unexecuted status id a new run starts with.
pub const UNEXECUTED: i64 = 605;

/// Builds the seeded system fields. `next_id` hands out field ids, `next_value` choice ids.
pub struct Seeder<'a> {
    next_id: &'a mut i64,
    next_value: i64,
}

type Choice<'a> = (&'a str, bool);

impl<'a> Seeder<'a> {
    /// Starts handing out ids from the given counter.
    pub fn new(next_id: &'a mut i64) -> Self {
        Seeder {
            next_id,
            next_value: 701,
        }
    }

    /// Every object type's system fields, in type order of [`FIELD_OBJECT_TYPES`].
    pub fn seed(&mut self) -> Vec<(&'static str, Vec<FieldDef>)> {
        let statuses: Vec<AllowedValueDef> = execution_statuses()
            .into_iter()
            .enumerate()
            .map(|(i, s)| AllowedValueDef {
                value: s.id,
                label: s.name,
                order: i as i64 + 1,
                is_default: s.is_default,
                is_active: true,
                color: Some(s.color),
            })
            .collect();
        let priority: &[Choice] = &[
            ("Urgent", false),
            ("High", false),
            ("Medium", true),
            ("Low", false),
        ];
        vec![
            (
                "releases",
                vec![
                    self.choice(
                        "Status",
                        &[
                            ("Planning", true),
                            ("Implementing", false),
                            ("Testing", false),
                            ("Done", false),
                        ],
                    ),
                    self.plain("Start Date", 4, "Date"),
                    self.plain("End Date", 4, "Date"),
                ],
            ),
            (
                "builds",
                vec![
                    self.plain("Build Number", 1, "Text"),
                    self.plain("Created Date", 9, "DateTime"),
                ],
            ),
            (
                "requirements",
                vec![
                    self.choice(
                        "Status",
                        &[("New", true), ("Approved", false), ("Implemented", false)],
                    ),
                    self.choice("Priority", priority),
                    self.plain("Description", 6, "RichText"),
                ],
            ),
            (
                "test-cases",
                vec![
                    self.choice(
                        "Status",
                        &[
                            ("New", true),
                            ("Ready for Baseline", false),
                            ("Baselined", false),
                        ],
                    ),
                    self.choice(
                        "Type",
                        &[
                            ("Manual", true),
                            ("Automation", false),
                            ("Performance", false),
                            ("Scenario", false),
                        ],
                    ),
                    self.choice("Priority", priority),
                    self.plain("Description", 6, "RichText"),
                    self.plain("Precondition", 6, "RichText"),
                    self.plain("Assigned To", 5, "User"),
                    self.plain("Automation Content", 1, "Text"),
                ],
            ),
            (
                "test-steps",
                vec![
                    self.plain("Description", 6, "RichText"),
                    self.plain("Expected Result", 6, "RichText"),
                ],
            ),
            (
                "defects",
                vec![
                    self.choice(
                        "Status",
                        &[("New", true), ("Open", false), ("Closed", false)],
                    ),
                    self.choice(
                        "Severity",
                        &[
                            ("Fatal", false),
                            ("Major", false),
                            ("Average", true),
                            ("Minor", false),
                        ],
                    ),
                ],
            ),
            (
                "test-suites",
                vec![
                    self.plain("Target Release/Build", 3, "Combo"),
                    self.choice(
                        "Environment",
                        &[("Windows", false), ("Linux", false), ("macOS", false)],
                    ),
                ],
            ),
            (
                "test-runs",
                vec![
                    self.with_values("Status", statuses),
                    self.choice("Priority", priority),
                    self.plain("Planned Start Date", 9, "DateTime"),
                    self.plain("Planned End Date", 9, "DateTime"),
                    self.plain("Assigned To", 5, "User"),
                    self.choice("Execution Type", &[("Manual", true), ("Automation", false)]),
                ],
            ),
        ]
    }

    fn field(&mut self, label: &str, data_type: i64, attribute_type: &str) -> FieldDef {
        let id = *self.next_id;
        *self.next_id += 1;
        FieldDef {
            id,
            label: label.to_string(),
            attribute_type: attribute_type.to_string(),
            required: false,
            constrained: false,
            order: 0,
            multiple: false,
            data_type,
            searchable: true,
            free_text_search: data_type == 1 || data_type == 2 || data_type == 6,
            system_field: true,
            original_name: label.replace(' ', ""),
            is_active: true,
            allowed_values: Vec::new(),
        }
    }

    fn plain(&mut self, label: &str, data_type: i64, attribute_type: &str) -> FieldDef {
        self.field(label, data_type, attribute_type)
    }

    fn choice(&mut self, label: &str, choices: &[Choice]) -> FieldDef {
        let mut values = Vec::with_capacity(choices.len());
        for (i, (name, default)) in choices.iter().enumerate() {
            values.push(AllowedValueDef {
                value: self.next_value,
                label: name.to_string(),
                order: i as i64 + 1,
                is_default: *default,
                is_active: true,
                color: None,
            });
            self.next_value += 1;
        }
        self.with_values(label, values)
    }

    fn with_values(&mut self, label: &str, values: Vec<AllowedValueDef>) -> FieldDef {
        let mut f = self.field(label, 3, "Combo");
        f.constrained = true;
        f.required = true;
        f.allowed_values = values;
        f
    }
}

/// The data-type codes a custom field may use.
pub fn attribute_type_of(data_type: i64) -> Option<&'static str> {
    Some(match data_type {
        1 => "Text",
        2 => "TextArea",
        3 => "Combo",
        4 => "Date",
        5 => "User",
        6 => "RichText",
        7 => "Number",
        8 => "CheckBox",
        9 => "DateTime",
        12 => "URL",
        17 => "MultiSelect",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constrained_values_are_checked_and_named() {
        let mut next = 1;
        let seeded = Seeder::new(&mut next).seed();
        let cases = &seeded.iter().find(|(t, _)| *t == "test-cases").unwrap().1;
        let priority = cases.iter().find(|f| f.label == "Priority").unwrap();
        let high = priority
            .allowed_values
            .iter()
            .find(|a| a.label == "High")
            .unwrap()
            .value;
        assert!(priority.check_value(&high.to_string()).is_ok());
        assert!(priority.check_value("High").is_err());
        assert!(priority.check_value("1").is_err());
        assert_eq!(priority.value_name(&high.to_string()), "High");
        assert_eq!(priority.query_value("high"), high.to_string());
        let mut multi = priority.clone();
        multi.multiple = true;
        assert!(multi.check_value(&format!("[{high}]")).is_ok());
        assert!(multi.check_value("[]").is_ok());
        assert!(multi.check_value("[9999]").is_err());
        assert_eq!(multi.value_name(&format!("[{high}]")), "[High]");
    }
}
