//! How the human table writes numbers and labels: thousands separators, seconds, rates,
//! milliseconds, ratios and the name of a run. A figure that was not measured shows as `–`.

use super::figures::RunReport;
use crate::measure::Percentiles;

/// Shown for a figure that was not measured.
pub(super) const NONE: &str = "–";

/// `12345.6` → `"12,346"`.
pub fn group(v: f64) -> String {
    if !v.is_finite() {
        return NONE.into();
    }
    let neg = v < 0.0;
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if neg { format!("-{out}") } else { out }
}

/// A count, grouped: `12345` → `"12,345"`.
pub(super) fn count(n: u64) -> String {
    group(n as f64)
}

/// A rate (per second), grouped.
pub(super) fn opt_rate(v: Option<f64>) -> String {
    v.map_or(NONE.into(), group)
}

/// Milliseconds: one decimal below 100, grouped from 100 on.
pub(super) fn opt_ms(v: Option<f64>) -> String {
    match v {
        None => NONE.into(),
        Some(v) if v >= 100.0 => group(v),
        Some(v) => format!("{v:.1}"),
    }
}

/// `p50 / p99`, in milliseconds.
pub(super) fn pcts(p: &Percentiles) -> String {
    format!("{} / {}", opt_ms(p.p50), opt_ms(p.p99))
}

/// A ratio: `0.051×`, `1.23×`.
pub(super) fn ratio(v: Option<f64>) -> String {
    match v {
        None => NONE.into(),
        Some(v) if v < 0.1 => format!("{v:.3}×"),
        Some(v) => format!("{v:.2}×"),
    }
}

/// Seconds: one decimal below 100, none from 100 on.
pub(super) fn secs(s: f64) -> String {
    if s >= 100.0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

/// A target's measured value: two decimals below 100 (in absolute value), grouped from 100 on.
pub(super) fn measured(v: Option<f64>) -> String {
    v.map_or(NONE.into(), |m| {
        if m.abs() >= 100.0 {
            group(m)
        } else {
            format!("{m:.2}")
        }
    })
}

/// `50,000 records, 2 workers`.
pub(super) fn run_label(r: &RunReport) -> String {
    format!(
        "{} records, {} worker{}",
        count(r.records_requested),
        r.workers,
        if r.workers == 1 { "" } else { "s" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(group(0.0), "0");
        assert_eq!(group(999.4), "999");
        assert_eq!(group(1000.0), "1,000");
        assert_eq!(group(1234567.0), "1,234,567");
        assert_eq!(group(-12345.0), "-12,345");
    }
}
