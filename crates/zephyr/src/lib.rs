//! ztoq's read-only client for Zephyr Scale Cloud REST API v2, the migration's source.
//!
//! [`ZephyrClient`] knows the real paths, paging styles and quirks (a 404 attachment list
//! means "none"; pages may be clamped below what was asked); [`Pager`] walks offset and
//! NextGen cursor lists page by page. Every request goes through `ztoq_http::send` and
//! `ztoq_http::read_json`, so each failure arrives as a classified [`ApiError`] and each call
//! is counted in the API metrics.
//!
//! Hostile content is contained here: lone surrogate escapes are replaced, NULs removed (Postgres
//! refuses them), error messages quoting the source are bounded, a bad list item is isolated
//! ([`Pager::next_items`]) and an attachment over a size limit is refused without reading it.
//!
//! Invariant: a list is read to its real end (`isLast`, an empty page, or a null cursor),
//! never cut short because a page came back smaller than requested.
#![warn(missing_docs)]

mod client;
mod decode;
mod paging;

pub use client::{Download, TooLarge, ZephyrClient};
pub use decode::{excerpt, sanitize_surrogates, strip_nul, synthetic_id};
pub use paging::{BadItem, ItemNote, PageItems, Pager};
pub use ztoq_http::{ApiError, ClientOptions, ErrorClass, Secret};
pub use ztoq_model::zephyr::{
    AttachmentRef, ExecutionStep, Folder, OptionValue, Project, TestCase, TestCycle, TestExecution,
    TestStep,
};
