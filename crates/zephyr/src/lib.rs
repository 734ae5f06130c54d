//! ztoq's read-only client for Zephyr Scale Cloud REST API v2, the migration's source.
//!
//! [`ZephyrClient`] knows the real paths, paging styles and quirks (a 404 attachment list
//! means "none"; pages may be clamped below what was asked); [`Pager`] walks offset and
//! NextGen cursor lists page by page. Every request goes through `ztoq_http::send` and
//! `ztoq_http::read_json`, so each failure arrives as a classified [`ApiError`] and each call
//! is counted in the API metrics.
//!
//! Invariant: a list is read to its real end (`isLast`, an empty page, or a null cursor),
//! never cut short because a page came back smaller than requested.
#![warn(missing_docs)]

mod client;
mod paging;

pub use client::{Download, ZephyrClient};
pub use paging::Pager;
pub use ztoq_http::{ApiError, ClientOptions, ErrorClass, Secret};
pub use ztoq_model::zephyr::{
    AttachmentRef, ExecutionStep, Folder, OptionValue, Project, TestCase, TestCycle, TestExecution,
    TestStep,
};
