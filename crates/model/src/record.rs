//! Record kinds and states: one record is one source item migrated as one unit of work.
//!
//! The string forms are stored in Postgres (`records.kind`, `records.state`) and used as
//! metric labels, so they are stable identifiers: never rename one without a migration.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a record is, and so what it becomes in qTest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// A Zephyr test-case folder; becomes a qTest module.
    Folder,
    /// A Zephyr test-cycle folder; becomes a qTest test cycle that holds cycles.
    CycleFolder,
    /// A Zephyr test case with its steps; becomes a qTest test case.
    TestCase,
    /// A Zephyr test cycle; becomes a qTest test cycle.
    TestCycle,
    /// A Zephyr test execution with its step results; becomes a qTest test log on the test run
    /// of its (cycle, test case) pair, creating that run when it is the pair's first execution.
    Execution,
    /// A file attached to a test case or an execution; becomes a qTest attachment (blob).
    Attachment,
}

impl RecordKind {
    /// Every kind, in the order a run proceeds.
    pub const ALL: [RecordKind; 6] = [
        RecordKind::Folder,
        RecordKind::CycleFolder,
        RecordKind::TestCase,
        RecordKind::TestCycle,
        RecordKind::Execution,
        RecordKind::Attachment,
    ];

    /// The stable name used in the database, in metrics and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Folder => "folder",
            RecordKind::CycleFolder => "cycle_folder",
            RecordKind::TestCase => "test_case",
            RecordKind::TestCycle => "test_cycle",
            RecordKind::Execution => "execution",
            RecordKind::Attachment => "attachment",
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown kind or state name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName(pub String);

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown name {:?}", self.0)
    }
}

impl std::error::Error for UnknownName {}

impl FromStr for RecordKind {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RecordKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownName(s.to_string()))
    }
}

/// Where a record is in its life.
///
/// `waiting` → `ready` (all dependencies done; a job exists) → `done` | `failed`;
/// a record whose dependency failed is `blocked`. `ztoq retry` moves `failed` back to `ready`
/// and `blocked` back to `waiting`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordState {
    /// Some dependency is not done yet.
    Waiting,
    /// Runnable: a job for it is queued (or running).
    Ready,
    /// Written to qTest; its qTest id is stored.
    Done,
    /// Failed for good (permanent error or attempts exhausted); keeps its reason.
    Failed,
    /// A dependency failed; names the failed record.
    Blocked,
}

impl RecordState {
    /// Every state.
    pub const ALL: [RecordState; 5] = [
        RecordState::Waiting,
        RecordState::Ready,
        RecordState::Done,
        RecordState::Failed,
        RecordState::Blocked,
    ];

    /// The stable name used in the database and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordState::Waiting => "waiting",
            RecordState::Ready => "ready",
            RecordState::Done => "done",
            RecordState::Failed => "failed",
            RecordState::Blocked => "blocked",
        }
    }
}

impl fmt::Display for RecordState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RecordState {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RecordState::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownName(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in RecordKind::ALL {
            assert_eq!(k.as_str().parse::<RecordKind>().unwrap(), k);
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        for s in RecordState::ALL {
            assert_eq!(s.as_str().parse::<RecordState>().unwrap(), s);
        }
        assert!("module".parse::<RecordKind>().is_err());
    }
}
