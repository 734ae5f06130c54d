//! Folders and cycles: Zephyr test-case folders → qTest modules, test-cycle folders and test
//! cycles → qTest test cycles.

use crate::{TransformError, name_note, name_text, rich_text, text_note};
use ztoq_model::{qtest, zephyr};

fn name(raw: &str, what: &'static str) -> Result<String, TransformError> {
    let n = name_text(raw);
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
        description: rich_text(cycle.description.as_deref()),
        ..Default::default()
    })
}

/// What [`module`] / [`cycle_folder`] will cut from a folder.
pub fn folder_notes(folder: &zephyr::Folder) -> Vec<String> {
    name_note("name", &folder.name).into_iter().collect()
}

/// What [`test_cycle`] will cut from a cycle.
pub fn test_cycle_notes(cycle: &zephyr::TestCycle) -> Vec<String> {
    name_note("name", &cycle.name)
        .into_iter()
        .chain(text_note("description", cycle.description.as_deref()))
        .collect()
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
