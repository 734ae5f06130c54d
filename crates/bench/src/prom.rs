//! Reading a worker's Prometheus endpoint: a plain HTTP/1.0 GET over loopback (no client
//! library needed), the text format's histogram buckets, and `histogram_quantile`-style
//! percentiles (linear interpolation inside the bucket, as Prometheus does).

use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `GET /metrics` from `addr`; the body.
pub async fn scrape(addr: SocketAddr) -> Result<String> {
    let fetch = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream
            .write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\nAccept: text/plain\r\n\r\n")
            .await?;
        let mut buf = Vec::new();
        stream.read_to_end(&mut buf).await?;
        Ok::<_, std::io::Error>(buf)
    };
    let buf = tokio::time::timeout(Duration::from_secs(10), fetch)
        .await
        .with_context(|| format!("scraping {addr}: timed out"))?
        .with_context(|| format!("scraping {addr}"))?;
    let text = String::from_utf8_lossy(&buf);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        bail!("scraping {addr}: no HTTP response");
    };
    let status = head.split_whitespace().nth(1);
    if !head.starts_with("HTTP/1.") || status != Some("200") {
        bail!(
            "scraping {addr}: {}",
            head.lines().next().unwrap_or_default()
        );
    }
    Ok(body.to_string())
}

/// One sample line: metric name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Metric name (with `_bucket`, `_sum`, `_count` suffixes as written).
    pub name: String,
    /// Labels in the order written.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
}

impl Sample {
    /// A label's value.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses the samples of a text exposition (comments and malformed lines are skipped).
pub fn parse(text: &str) -> Vec<Sample> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (name, labels, rest) = match line.find('{') {
        Some(open) => {
            let close = line.rfind('}')?;
            (
                &line[..open],
                parse_labels(&line[open + 1..close])?,
                &line[close + 1..],
            )
        }
        None => {
            let sp = line.find(' ')?;
            (&line[..sp], Vec::new(), &line[sp..])
        }
    };
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

fn parse_labels(s: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Some(out);
        }
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if chars.next()? != '"' {
            return None;
        }
        let mut value = String::new();
        loop {
            match chars.next()? {
                '\\' => match chars.next()? {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                '"' => break,
                c => value.push(c),
            }
        }
        out.push((name.trim().to_string(), value));
    }
}

/// Cumulative bucket counts of one histogram, by upper bound (`le`), merged over series.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// `(le, cumulative count)`, sorted by `le`; the last bound is `+Inf`.
    pub buckets: Vec<(f64, f64)>,
}

impl Histogram {
    /// Adds up the `<name>_bucket` series of `samples` whose labels pass `keep` (e.g. one
    /// `kind`, `outcome="done"`), over every worker's scrape.
    pub fn collect<'a>(
        samples: impl IntoIterator<Item = &'a Sample>,
        name: &str,
        keep: impl Fn(&Sample) -> bool,
    ) -> Histogram {
        let bucket = format!("{name}_bucket");
        let mut by_le: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
        for s in samples {
            if s.name != bucket || !keep(s) {
                continue;
            }
            let Some(le) = s.label("le").and_then(|v| match v {
                "+Inf" => Some(f64::INFINITY),
                v => v.parse::<f64>().ok(),
            }) else {
                continue;
            };
            let e = by_le.entry(le.to_bits()).or_insert((le, 0.0));
            e.1 += s.value;
        }
        let mut buckets: Vec<(f64, f64)> = by_le.into_values().collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        Histogram { buckets }
    }

    /// Observations counted.
    pub fn count(&self) -> f64 {
        self.buckets.last().map_or(0.0, |b| b.1)
    }

    /// The `q` quantile (0..=1), interpolated linearly inside its bucket as Prometheus's
    /// `histogram_quantile` does; `None` without observations. A quantile in the `+Inf`
    /// bucket answers the largest finite bound.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total <= 0.0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * total;
        let mut prev_le = 0.0;
        let mut prev_count = 0.0;
        for &(le, count) in &self.buckets {
            if count >= rank {
                if le.is_infinite() {
                    return Some(prev_le);
                }
                let in_bucket = count - prev_count;
                if in_bucket <= 0.0 {
                    return Some(le);
                }
                return Some(prev_le + (le - prev_le) * (rank - prev_count) / in_bucket);
            }
            prev_le = le;
            prev_count = count;
        }
        Some(prev_le)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP ztoq_record_duration_seconds Time to process one record attempt.
# TYPE ztoq_record_duration_seconds histogram
ztoq_record_duration_seconds_bucket{kind="test_case",outcome="done",le="0.01"} 10
ztoq_record_duration_seconds_bucket{kind="test_case",outcome="done",le="0.1"} 90
ztoq_record_duration_seconds_bucket{kind="test_case",outcome="done",le="+Inf"} 100
ztoq_record_duration_seconds_sum{kind="test_case",outcome="done"} 4.2
ztoq_record_duration_seconds_count{kind="test_case",outcome="done"} 100
ztoq_record_duration_seconds_bucket{kind="test_case",outcome="retry",le="0.01"} 5
ztoq_record_duration_seconds_bucket{kind="test_case",outcome="retry",le="0.1"} 5
ztoq_record_duration_seconds_bucket{kind="test_case",outcome="retry",le="+Inf"} 5
ztoq_records_total{kind="test_case",outcome="done"} 100
weird{a="x\"y"} 1e3
"#;

    #[test]
    fn parses_samples_and_labels() {
        let samples = parse(TEXT);
        assert_eq!(samples.len(), 10);
        assert_eq!(samples[0].label("le"), Some("0.01"));
        assert_eq!(samples[9].label("a"), Some("x\"y"));
        assert_eq!(samples[9].value, 1000.0);
    }

    #[test]
    fn quantiles_interpolate_like_prometheus() {
        let samples = parse(TEXT);
        let h = Histogram::collect(&samples, "ztoq_record_duration_seconds", |s| {
            s.label("outcome") == Some("done")
        });
        assert_eq!(h.count(), 100.0);
        // rank 50 falls in (0.01, 0.1]: 0.01 + 0.09 * (50 - 10) / 80
        let p50 = h.quantile(0.5).unwrap();
        assert!((p50 - 0.055).abs() < 1e-9, "{p50}");
        // rank 99 falls in the +Inf bucket: the largest finite bound
        assert_eq!(h.quantile(0.99), Some(0.1));
        let empty = Histogram::collect(&samples, "nothing", |_| true);
        assert_eq!(empty.quantile(0.5), None);
    }

    #[test]
    fn merges_workers() {
        let mut samples = parse(TEXT);
        samples.extend(parse(TEXT));
        let h = Histogram::collect(&samples, "ztoq_record_duration_seconds", |s| {
            s.label("outcome") == Some("done")
        });
        assert_eq!(h.count(), 200.0);
    }
}
