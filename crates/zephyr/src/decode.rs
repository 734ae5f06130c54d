//! Turning response bodies into items without letting hostile content through: lone UTF-16
//! surrogate escapes (`\ud800`, which `serde_json` refuses) are replaced by U+FFFD before
//! parsing, NUL characters (which Postgres `text` and `jsonb` refuse) are removed from every
//! string and key after parsing, and every message quoting the source is cut to a bounded,
//! NUL-free excerpt (a serde error quotes the whole offending string, which may be megabytes).
//!
//! Invariant: nothing here slices a string at a byte index that is not a char boundary.

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::borrow::Cow;
use ztoq_http::{Api, ApiError, error_chain};

/// The longest excerpt of source text put in a message, in characters.
pub(crate) const EXCERPT_CHARS: usize = 300;

/// `text` without NULs, cut to `max_chars` characters (an ellipsis marks the cut).
pub fn excerpt(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 4));
    for (n, c) in text.chars().filter(|c| *c != '\0').enumerate() {
        if n == max_chars {
            out.push('…');
            break;
        }
        out.push(c);
    }
    out
}

/// Removes NUL characters from every string (and object key) in `value`; returns how many.
pub fn strip_nul(value: &mut Value) -> usize {
    match value {
        Value::String(s) => strip_nul_str(s),
        Value::Array(items) => items.iter_mut().map(strip_nul).sum(),
        Value::Object(map) => {
            let mut n: usize = map.values_mut().map(strip_nul).sum();
            if map.keys().any(|k| k.contains('\0')) {
                let old = std::mem::take(map);
                for (mut k, v) in old {
                    n += strip_nul_str(&mut k);
                    map.insert(k, v);
                }
            }
            n
        }
        _ => 0,
    }
}

fn strip_nul_str(s: &mut String) -> usize {
    let before = s.len();
    if s.contains('\0') {
        s.retain(|c| c != '\0');
    }
    before - s.len()
}

/// Whether any string in `value` holds U+FFFD (what a lone surrogate was replaced by).
pub(crate) fn has_replacement_char(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\u{FFFD}'),
        Value::Array(items) => items.iter().any(has_replacement_char),
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k.contains('\u{FFFD}') || has_replacement_char(v)),
        _ => false,
    }
}

fn hex4(b: &[u8]) -> Option<u16> {
    let s = std::str::from_utf8(b.get(..4)?).ok()?;
    u16::from_str_radix(s, 16).ok()
}

/// Replaces `\uXXXX` escapes of unpaired UTF-16 surrogates inside JSON strings by `\ufffd`.
/// Returns the (possibly unchanged) body and how many escapes were replaced.
pub fn sanitize_surrogates(body: &[u8]) -> (Cow<'_, [u8]>, usize) {
    // Fast path: no escape that could be a surrogate.
    let maybe = body
        .windows(3)
        .any(|w| w[0] == b'\\' && w[1] == b'u' && matches!(w[2], b'd' | b'D'));
    if !maybe {
        return (Cow::Borrowed(body), 0);
    }
    let mut out = Vec::with_capacity(body.len());
    let mut replaced = 0;
    let mut in_string = false;
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if !in_string {
            if b == b'"' {
                in_string = true;
            }
            out.push(b);
            i += 1;
            continue;
        }
        match b {
            b'"' => {
                in_string = false;
                out.push(b);
                i += 1;
            }
            b'\\' if body.get(i + 1) == Some(&b'u') => {
                let Some(unit) = hex4(&body[i + 2..]) else {
                    // Malformed escape: leave it to the parser to report.
                    out.extend_from_slice(&body[i..i + 2]);
                    i += 2;
                    continue;
                };
                let paired_low = |j: usize| {
                    body.get(j) == Some(&b'\\')
                        && body.get(j + 1) == Some(&b'u')
                        && hex4(&body[(j + 2).min(body.len())..])
                            .is_some_and(|u| (0xDC00..=0xDFFF).contains(&u))
                };
                match unit {
                    0xD800..=0xDBFF if paired_low(i + 6) => {
                        out.extend_from_slice(&body[i..i + 12]);
                        i += 12;
                    }
                    0xD800..=0xDFFF => {
                        out.extend_from_slice(b"\\ufffd");
                        replaced += 1;
                        i += 6;
                    }
                    _ => {
                        out.extend_from_slice(&body[i..i + 6]);
                        i += 6;
                    }
                }
            }
            b'\\' => {
                // Any other escape: copy it whole, so an escaped quote does not end the string.
                out.extend_from_slice(&body[i..(i + 2).min(body.len())]);
                i += 2;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    if replaced == 0 {
        (Cow::Borrowed(body), 0)
    } else {
        (Cow::Owned(out), replaced)
    }
}

/// A decoded body and how many lone surrogates it had (replaced by U+FFFD).
pub(crate) struct Decoded<P> {
    pub value: P,
    pub surrogates: usize,
}

/// Parses a complete 2xx body: surrogates sanitised first; a body cut short is transient, any
/// other parse failure a permanent decode error with a bounded message.
pub(crate) fn decode_body<P: DeserializeOwned>(
    operation: &'static str,
    bytes: &[u8],
) -> Result<Decoded<P>, ApiError> {
    let (body, surrogates) = sanitize_surrogates(bytes);
    match serde_json::from_slice(&body) {
        Ok(value) => Ok(Decoded { value, surrogates }),
        Err(e) if e.is_eof() => Err(ApiError::Transport {
            api: Api::Zephyr.as_str(),
            operation,
            message: format!("truncated body: {}", excerpt(&e.to_string(), EXCERPT_CHARS)),
            maybe_applied: true,
        }),
        Err(e) => Err(decode_error(operation, &e.to_string())),
    }
}

pub(crate) fn decode_error(operation: &'static str, message: &str) -> ApiError {
    ApiError::Decode {
        api: Api::Zephyr.as_str(),
        operation,
        message: excerpt(message, EXCERPT_CHARS),
    }
}

/// Reads a whole 2xx body.
pub(crate) async fn read_body(
    operation: &'static str,
    response: reqwest::Response,
) -> Result<Bytes, ApiError> {
    response.bytes().await.map_err(|e| ApiError::Transport {
        api: Api::Zephyr.as_str(),
        operation,
        message: format!("reading body: {}", error_chain(&e)),
        maybe_applied: true,
    })
}

/// Reads one entity: parsed as JSON, NULs removed (logged with `what`), then typed.
pub(crate) async fn read_entity<T: DeserializeOwned>(
    operation: &'static str,
    what: &str,
    response: reqwest::Response,
) -> Result<T, ApiError> {
    let bytes = read_body(operation, response).await?;
    let Decoded {
        mut value,
        surrogates,
    } = decode_body::<Value>(operation, &bytes)?;
    let nuls = strip_nul(&mut value);
    if nuls > 0 || surrogates > 0 {
        tracing::warn!(
            api = "zephyr",
            operation,
            item = what,
            nuls,
            surrogates,
            "source text degraded: NUL characters removed, lone surrogates replaced by U+FFFD"
        );
    }
    T::deserialize(&value).map_err(|e| decode_error(operation, &format!("{what}: {e}")))
}

/// A stable negative id for an item that has none (or none readable): a hash of where it
/// was found. Distinct from every real (positive) id.
pub fn synthetic_id(position: &str) -> i64 {
    // FNV-1a, 64 bits; the sign bit cleared, then negated (never 0).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in position.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    -((h >> 1) as i64) - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_surrogates_are_replaced_pairs_kept() {
        let body =
            br#"{"a":"x\ud800y","b":"\ud83d\ude00","c":"\\ud800","d":"\udc00","e":"\u00e9"}"#;
        let (clean, n) = sanitize_surrogates(body);
        assert_eq!(n, 2);
        let v: Value = serde_json::from_slice(&clean).unwrap();
        assert_eq!(v["a"], "x\u{FFFD}y");
        assert_eq!(v["b"], "😀");
        assert_eq!(
            v["c"], "\\ud800",
            "an escaped backslash is text, not an escape"
        );
        assert_eq!(v["d"], "\u{FFFD}");
        assert_eq!(v["e"], "é");
        assert!(
            serde_json::from_slice::<Value>(body).is_err(),
            "serde refuses them"
        );
        let plain = br#"{"a":"no escapes"}"#;
        assert!(matches!(sanitize_surrogates(plain), (Cow::Borrowed(_), 0)));
        // A high surrogate at the very end of the body (a broken body) does not panic.
        let (_, n) = sanitize_surrogates(br#"{"a":"\ud800"#);
        assert_eq!(n, 1);
        let _ = sanitize_surrogates(br#"{"a":"\ud8"#);
        let _ = sanitize_surrogates(br#"{"a":"\"#);
    }

    #[test]
    fn nuls_are_stripped_everywhere() {
        let mut v =
            serde_json::json!({"na\u{0}me": "a\u{0}b", "list": ["\u{0}", 1, {"x": "\u{0}\u{0}"}]});
        assert_eq!(strip_nul(&mut v), 5);
        assert_eq!(
            v,
            serde_json::json!({"name": "ab", "list": ["", 1, {"x": ""}]})
        );
    }

    #[test]
    fn excerpts_are_bounded_on_char_boundaries() {
        let long = "é😀".repeat(1000);
        let e = excerpt(&long, 5);
        assert_eq!(e, "é😀é😀é…");
        assert_eq!(excerpt("a\u{0}b", 10), "ab");
    }

    #[test]
    fn synthetic_ids_are_negative_and_stable() {
        let a = synthetic_id("list_test_cycles item at startAt=3");
        assert!(a < 0);
        assert_eq!(a, synthetic_id("list_test_cycles item at startAt=3"));
        assert_ne!(a, synthetic_id("list_test_cycles item at startAt=4"));
    }

    #[test]
    fn decode_errors_are_bounded() {
        let body = format!(r#"{{"id": "{}"}}"#, "x".repeat(1_000_000));
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct T {
            id: i64,
        }
        let v: Decoded<Value> = decode_body("op", body.as_bytes()).unwrap();
        let e = <T as serde::Deserialize>::deserialize(&v.value)
            .unwrap_err()
            .to_string();
        assert!(e.len() > 1_000_000, "serde quotes the whole value");
        let err = decode_error("op", &e).to_string();
        assert!(err.len() < 2000, "{}", err.len());
        let err = decode_body::<Value>("op", b"{\"a\": 1,, }").err().unwrap();
        assert_eq!(err.class(), ztoq_http::ErrorClass::Permanent);
        let err = decode_body::<Value>("op", b"{\"a\": [1, 2").err().unwrap();
        assert_eq!(err.class(), ztoq_http::ErrorClass::Transient);
    }
}
