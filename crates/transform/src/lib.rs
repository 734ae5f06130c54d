//! Pure functions from Zephyr Scale items to qTest Manager request bodies.
//!
//! Invariant: no I/O, no clock, no randomness. The worker calls these to build what it writes,
//! and `ztoq verify` calls the same functions to know what qTest must hold, so the two can
//! never disagree about the mapping. Field-by-field mapping notes live in `docs/mapping.md`.
//!
//! What is not mapped yet is degraded, never dropped silently: a call-to-test step becomes a
//! text step naming the called case. Text is passed on as it is (rich text stays HTML, names
//! stay text, `<script>` included: rendering safely is qTest's job), except that NULs are
//! removed and oversized values are cut with a visible marker ([`MAX_NAME_CHARS`],
//! [`MAX_TEXT_BYTES`]); the `*_notes` functions say which fields of an item will be cut, so
//! the caller can report the degradation.
#![warn(missing_docs)]

mod execution;
mod structure;
mod test_case;

pub use execution::{LogContext, exe_dates, execution_marker, execution_notes, test_log, test_run};
pub use structure::{cycle_folder, folder_notes, module, test_cycle, test_cycle_notes};
pub use test_case::{TestCaseContext, TestCaseOut, test_case, test_case_notes, test_step};

/// Why an item cannot be transformed (a permanent error: the source must change).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransformError {
    /// A required value is missing or empty.
    #[error("{0} is missing or empty")]
    Missing(&'static str),
    /// A value has no mapping in the target.
    #[error("{what} {value} has no qTest mapping")]
    Unmapped {
        /// What kind of value.
        what: &'static str,
        /// The value.
        value: String,
    },
    /// A value cannot be parsed.
    #[error("{what} {value:?} is invalid: {reason}")]
    Invalid {
        /// What kind of value.
        what: &'static str,
        /// The value.
        value: String,
        /// Why.
        reason: String,
    },
}

/// The longest name (module, test case, cycle, run) ztoq sends, in characters: qTest limits
/// names to roughly 500 characters (qtest-api.md, unverified); longer ones are cut and end in
/// `…`.
pub const MAX_NAME_CHARS: usize = 500;

/// The largest rich-text value (description, precondition, step, note, actual result) ztoq
/// sends, in UTF-8 bytes (marker included). qTest documents no limit; a megabyte keeps any
/// real text whole while a pasted multi-megabyte blob cannot make the whole item fail.
pub const MAX_TEXT_BYTES: usize = 1 << 20;

/// Text with NUL characters removed (Postgres text and many HTTP stacks refuse them) and
/// surrounding white space trimmed.
pub fn clean(text: &str) -> String {
    text.replace('\u{0}', "").trim().to_string()
}

/// `Some(cleaned)` when the text has content.
pub fn non_empty(text: Option<&str>) -> Option<String> {
    text.map(clean).filter(|t| !t.is_empty())
}

/// A name as qTest gets it: cleaned, and cut to [`MAX_NAME_CHARS`] characters (the last one
/// then `…`). Cuts between characters, never inside one.
pub fn name_text(raw: &str) -> String {
    let name = clean(raw);
    if name.chars().count() <= MAX_NAME_CHARS {
        return name;
    }
    let mut out: String = name.chars().take(MAX_NAME_CHARS - 1).collect();
    out.push('…');
    out
}

/// The marker that ends a cut rich-text value.
fn cut_marker(original_bytes: usize) -> String {
    format!("<p>[cut by ztoq: the Zephyr text was {original_bytes} bytes]</p>")
}

/// Rich text as qTest gets it: [`non_empty`], and when over [`MAX_TEXT_BYTES`] cut at a
/// character boundary and ended with a marker saying how long the original was.
pub fn rich_text(raw: Option<&str>) -> Option<String> {
    let text = non_empty(raw)?;
    if text.len() <= MAX_TEXT_BYTES {
        return Some(text);
    }
    let marker = cut_marker(text.len());
    let mut keep = MAX_TEXT_BYTES - marker.len();
    while !text.is_char_boundary(keep) {
        keep -= 1;
    }
    let mut out = String::with_capacity(MAX_TEXT_BYTES);
    out.push_str(text.get(..keep).unwrap_or_default());
    out.push_str(&marker);
    Some(out)
}

/// A note when [`name_text`] cuts `raw`.
pub fn name_note(what: &str, raw: &str) -> Option<String> {
    let n = clean(raw).chars().count();
    (n > MAX_NAME_CHARS).then(|| format!("{what} cut from {n} to {MAX_NAME_CHARS} characters"))
}

/// A note when [`rich_text`] cuts `raw`.
pub fn text_note(what: &str, raw: Option<&str>) -> Option<String> {
    let n = non_empty(raw).map_or(0, |t| t.len());
    (n > MAX_TEXT_BYTES).then(|| format!("{what} cut from {n} to {MAX_TEXT_BYTES} bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cut_between_characters() {
        let raw = format!("{}👩‍💻é\u{301}{}", "a".repeat(497), "z".repeat(100));
        let name = name_text(&raw);
        assert_eq!(name.chars().count(), MAX_NAME_CHARS);
        assert!(name.ends_with('…'));
        let note = name_note("name", &raw).unwrap();
        assert_eq!(
            note,
            format!("name cut from {} to 500 characters", raw.chars().count())
        );
        assert_eq!(name_text(" <script>x</script>\u{0} "), "<script>x</script>");
        assert_eq!(name_note("name", "short"), None);
    }

    #[test]
    fn rich_text_is_cut_at_a_char_boundary_with_a_marker() {
        // 3 MB of multi-byte characters: every cut position is tried against boundaries.
        for filler in ["é", "😀", "x"] {
            let raw = format!("<p>{}</p>", filler.repeat(3 * 1024 * 1024 / filler.len()));
            let text = rich_text(Some(&raw)).unwrap();
            assert!(text.len() <= MAX_TEXT_BYTES, "{}", text.len());
            assert!(text.len() > MAX_TEXT_BYTES - 8);
            assert!(text.ends_with(&cut_marker(raw.len())), "{filler}");
            assert!(text_note("objective", Some(&raw)).is_some());
        }
        assert_eq!(
            rich_text(Some("<b>ok</b>\u{0}")).as_deref(),
            Some("<b>ok</b>")
        );
        assert_eq!(rich_text(Some("  ")), None);
        assert_eq!(text_note("objective", Some("short")), None);
    }
}
