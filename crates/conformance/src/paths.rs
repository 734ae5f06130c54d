//! Path templates (`/testcases/{testCaseKey}/teststeps`) and matching of concrete paths
//! against them, preferring literal segments over parameters where several templates match.

/// One segment of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
}

/// A parsed path template.
#[derive(Clone, Debug)]
pub(crate) struct Template {
    /// The template as written in the spec.
    pub raw: String,
    segments: Vec<Segment>,
}

impl Template {
    pub(crate) fn parse(raw: &str) -> Self {
        let segments = split(raw)
            .map(
                |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) => Segment::Param(name.to_string()),
                    None => Segment::Literal(segment.to_string()),
                },
            )
            .collect();
        Self {
            raw: raw.to_string(),
            segments,
        }
    }

    /// The path parameters (name, percent-decoded value) when `path` matches this template.
    pub(crate) fn matches(&self, path: &str) -> Option<Vec<(String, String)>> {
        let parts: Vec<&str> = split(path).collect();
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut params = Vec::new();
        for (segment, part) in self.segments.iter().zip(&parts) {
            match segment {
                Segment::Literal(literal) if literal == part => {}
                Segment::Literal(_) => return None,
                Segment::Param(_) if part.is_empty() => return None,
                Segment::Param(name) => params.push((name.clone(), percent_decode(part))),
            }
        }
        Some(params)
    }

    /// Ordering key: literal (true) beats parameter (false), the earliest segment first, so
    /// `/testcases/nextgen` ranks above `/testcases/{testCaseKey}`.
    pub(crate) fn specificity(&self) -> Vec<bool> {
        self.segments
            .iter()
            .map(|s| matches!(s, Segment::Literal(_)))
            .collect()
    }
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    let trimmed = path.trim_start_matches('/');
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    trimmed.split('/').filter(move |_| !trimmed.is_empty())
}

/// Decodes `%XX` escapes (invalid escapes are kept as written).
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(byte) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_and_extracts() {
        let t = Template::parse("/testcases/{testCaseKey}/teststeps");
        assert_eq!(
            t.matches("/testcases/ACME-T1/teststeps"),
            Some(vec![("testCaseKey".into(), "ACME-T1".into())])
        );
        assert_eq!(t.matches("/testcases/ACME-T1"), None);
        assert_eq!(t.matches("/testcases//teststeps"), None);
        assert_eq!(
            Template::parse("/healthcheck").matches("/healthcheck"),
            Some(vec![])
        );
        assert_eq!(
            Template::parse("/a/{b}").matches("/a/x%20y"),
            Some(vec![("b".into(), "x y".into())])
        );
    }

    #[test]
    fn literal_segments_rank_higher() {
        let literal = Template::parse("/testcases/nextgen");
        let param = Template::parse("/testcases/{testCaseKey}");
        assert!(literal.specificity() > param.specificity());
    }

    #[test]
    fn percent_decoding_keeps_bad_escapes() {
        assert_eq!(percent_decode("a%2Fb%zz%4"), "a/b%zz%4");
    }
}
