//! Attachments of the generated project: which test cases and executions hold them (spread
//! by `layout`), their names (`evidence-{n}.png|txt|json`) and their deterministic bytes (a
//! few hundred bytes to a few KB, matching the name's type).

use super::generate::{Dataset, T_ATTACH, mix, splitmix};
use super::layout::ids;
use serde_json::{Value, json};

impl Dataset {
    /// Attachments `(id, name)` of test case `i`.
    pub fn test_case_attachments(&self, i: u64) -> Vec<(i64, String)> {
        self.layout
            .case_attachments
            .items_at(i)
            .map(|j| self.attachment_ref(j))
            .collect()
    }

    /// Attachments `(id, name)` of execution `e`.
    pub fn execution_attachments(&self, e: u64) -> Vec<(i64, String)> {
        let offset = self.layout.case_attachments.items();
        self.layout
            .execution_attachments
            .items_at(e)
            .map(|j| self.attachment_ref(offset + j))
            .collect()
    }

    fn attachment_ref(&self, j: u64) -> (i64, String) {
        let ext = ["png", "txt", "json"][(self.h(T_ATTACH, j) % 3) as usize];
        (
            ids::ATTACHMENT + j as i64,
            format!("evidence-{}.{ext}", j + 1),
        )
    }

    /// The content and content type of attachment `id`, whoever holds it.
    pub fn attachment_content(&self, id: i64) -> Option<(Vec<u8>, &'static str)> {
        let total =
            self.layout.case_attachments.items() + self.layout.execution_attachments.items();
        let j = u64::try_from(id - ids::ATTACHMENT)
            .ok()
            .filter(|&j| j < total)?;
        let h = self.h(T_ATTACH, j);
        let size = 200 + (h >> 8) % 3800;
        Some(match h % 3 {
            0 => (png_bytes(h, size), "image/png"),
            1 => (text_bytes(j, size), "text/plain"),
            _ => (json_bytes(j, h, size), "application/json"),
        })
    }
}

fn png_bytes(h: u64, size: u64) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut x = h;
    while (out.len() as u64) < size {
        x = splitmix(x);
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(size as usize);
    out
}

fn text_bytes(j: u64, size: u64) -> Vec<u8> {
    let mut out = String::new();
    let mut line = 0;
    while (out.len() as u64) < size {
        line += 1;
        out.push_str(&format!(
            "evidence {} line {line}: all checks passed\n",
            j + 1
        ));
    }
    out.truncate(size as usize);
    out.into_bytes()
}

fn json_bytes(j: u64, h: u64, size: u64) -> Vec<u8> {
    let n = size / 20 + 4;
    let rows: Vec<Value> = (0..n)
        .map(|r| json!({ "row": r, "value": mix(h, j, r) % 1000 }))
        .collect();
    json!({ "evidence": j + 1, "rows": rows })
        .to_string()
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachments_are_small_and_typed_by_name() {
        let d = Dataset::new(9, 5000, "ACME");
        let mut seen = 0;
        for i in 0..d.layout.cases {
            for (id, name) in d.test_case_attachments(i) {
                let (bytes, ct) = d.attachment_content(id).unwrap();
                assert!((200..=5000).contains(&bytes.len()), "{}", bytes.len());
                let ext = name.rsplit('.').next().unwrap();
                assert!(
                    ct.ends_with(if ext == "txt" { "plain" } else { ext }),
                    "{name} {ct}"
                );
                seen += 1;
            }
        }
        assert_eq!(seen, d.layout.case_attachments.items());
    }
}
