//! Containers and owners: where a test cycle or run lives (`parentId` + `parentType`) and
//! which objects attachments hang on.

use super::error::{MockError, MockResult};

/// Where a cycle or run lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Parent {
    Root,
    Release(i64),
    Cycle(i64),
    Suite(i64),
}

impl Parent {
    /// From `parentId` and `parentType` (absent type: root).
    pub(crate) fn parse(parent_id: Option<i64>, parent_type: Option<&str>) -> MockResult<Parent> {
        let id = parent_id.unwrap_or(0);
        match parent_type.unwrap_or("root") {
            "root" | "" => Ok(Parent::Root),
            "release" => Ok(Parent::Release(id)),
            "test-cycle" => Ok(Parent::Cycle(id)),
            "test-suite" => Ok(Parent::Suite(id)),
            other => Err(MockError::bad_request(format!(
                "Invalid parentType '{other}'"
            ))),
        }
    }

    pub(crate) fn type_str(self) -> &'static str {
        match self {
            Parent::Root => "root",
            Parent::Release(_) => "release",
            Parent::Cycle(_) => "test-cycle",
            Parent::Suite(_) => "test-suite",
        }
    }

    pub(crate) fn id(self) -> i64 {
        match self {
            Parent::Root => 0,
            Parent::Release(id) | Parent::Cycle(id) | Parent::Suite(id) => id,
        }
    }
}

/// Objects attachments hang on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Target {
    Case,
    Log,
    Step,
    StepLog,
}
