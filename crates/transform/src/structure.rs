//! Folders and cycles: Zephyr test-case folders → qTest modules, test-cycle folders and test
//! cycles → qTest test cycles.

use crate::{TransformError, clean, non_empty};
use ztoq_model::{qtest, zephyr};

fn name(raw: &str, what: &'static str) -> Result<String, TransformError> {
    let n = clean(raw);
    if n.is_empty() {
        Err(TransformError::Missing(what))
    } else {
        Ok(n)
    }
}

/// A test-case folder as a module (the parent goes in the request's `parentId`).
pub fn module(folder: &zephyr::Folder) -> Result<qtest::Module, TransformError> {
    Ok(qtest::Module {
        name: Some(name(&folder.name, "folder name")?),
        ..Default::default()
    })
}

/// A test-cycle folder as a test cycle that holds cycles.
pub fn cycle_folder(folder: &zephyr::Folder) -> Result<qtest::TestCycle, TransformError> {
    Ok(qtest::TestCycle {
        name: Some(name(&folder.name, "folder name")?),
        ..Default::default()
    })
}

/// A test cycle (description kept as HTML).
pub fn test_cycle(cycle: &zephyr::TestCycle) -> Result<qtest::TestCycle, TransformError> {
    Ok(qtest::TestCycle {
        name: Some(name(&cycle.name, "test cycle name")?),
        description: non_empty(cycle.description.as_deref()),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str) -> zephyr::Folder {
        zephyr::Folder {
            id: 1,
            parent_id: None,
            name: name.into(),
            index: 0,
            folder_type: "TEST_CASE".into(),
            project: None,
        }
    }

    #[test]
    fn folder_names_are_cleaned_and_required() {
        assert_eq!(
            module(&folder(" Checkout\u{0} ")).unwrap().name.as_deref(),
            Some("Checkout")
        );
        assert_eq!(
            module(&folder("  ")),
            Err(TransformError::Missing("folder name"))
        );
        assert_eq!(
            cycle_folder(&folder("Sprints")).unwrap().name.as_deref(),
            Some("Sprints")
        );
    }
}
