//! Building Data Query text for `POST …/search`: values go in single quotes, a quote inside a
//! value is doubled.

/// Quotes a value for a Data Query: `it's` → `'it''s'`.
pub fn quote_query_value(v: &str) -> String {
    format!("'{}'", v.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::quote_query_value;

    #[test]
    fn doubles_quotes() {
        assert_eq!(quote_query_value("P-T1"), "'P-T1'");
        assert_eq!(quote_query_value("it's"), "'it''s'");
        assert_eq!(quote_query_value(""), "''");
        assert_eq!(quote_query_value("''"), "''''''");
    }
}
