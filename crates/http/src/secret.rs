//! [`Secret`]: a token or password that prints as `***` in `Debug` and `Display`, so that it
//! cannot leak through logs, error messages or reports by accident.

use std::fmt;

/// A secret string. Read it with [`Secret::expose`] only where it goes on the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// What to fix when an API refuses ztoq's credentials: the environment variables ztoq's
/// programs read them from. `api` is [`crate::ApiError::api`] (`zephyr` or `qtest`).
pub fn credential_variables(api: &str) -> &'static str {
    match api {
        "zephyr" => "ZTOQ_ZEPHYR_TOKEN",
        _ => "ZTOQ_QTEST_TOKEN, or ZTOQ_QTEST_USERNAME and ZTOQ_QTEST_PASSWORD",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn never_prints_the_value() {
        let s = super::Secret::new("hunter2");
        assert!(!format!("{s:?} {s}").contains("hunter2"));
        assert_eq!(s.expose(), "hunter2");
    }
}
