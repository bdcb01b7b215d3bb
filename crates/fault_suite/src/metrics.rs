//! The service's `/metrics` (Prometheus text format), read back: what db_router decided (reads by
//! target, fallbacks, refusals, fast failures, credential refreshes) is the evidence for claims
//! the HTTP replies alone cannot prove, such as "reads went back to the replica".

use std::collections::BTreeMap;

use crate::api::Api;

/// One scrape: every series with its labels.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    series: Vec<(String, BTreeMap<String, String>, f64)>,
}

impl Metrics {
    /// Scrapes `GET /metrics`.
    ///
    /// # Panics
    /// When the endpoint does not answer 200.
    pub async fn scrape(api: &Api) -> Self {
        let response = api
            .anonymous(reqwest::Method::GET, "/metrics")
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET /metrics: {e}"));
        assert_eq!(response.status(), 200, "GET /metrics");
        let text = response
            .text()
            .await
            .unwrap_or_else(|e| panic!("GET /metrics body: {e}"));
        Self::parse(&text)
    }

    /// Parses the text format (comments skipped; label values without escaped quotes, which
    /// is all the service emits).
    pub fn parse(text: &str) -> Self {
        let series = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|line| {
                let (head, value) = line.rsplit_once(' ')?;
                let value: f64 = value.parse().ok()?;
                let (name, labels) = match head.split_once('{') {
                    Some((name, rest)) => (name, rest.trim_end_matches('}')),
                    None => (head, ""),
                };
                let labels = labels
                    .split(',')
                    .filter_map(|pair| {
                        let (k, v) = pair.split_once('=')?;
                        Some((k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
                    })
                    .collect();
                Some((name.to_owned(), labels, value))
            })
            .collect();
        Self { series }
    }

    /// The sum of `name` over the series whose labels include every pair of `labels`.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.series
            .iter()
            .filter(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l.get(*k).is_some_and(|x| x == v)))
            .map(|(_, _, v)| v)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_series_matching_the_labels() {
        let m = Metrics::parse(
            "# TYPE x counter\nx{target=\"replica\",consistency=\"any\"} 3\nx{target=\"primary\",consistency=\"any\"} 4\nx{target=\"replica\",consistency=\"strong\"} 5\ny 1.5\n",
        );
        assert!((m.sum("x", &[("target", "replica")]) - 8.0).abs() < f64::EPSILON);
        assert!((m.sum("x", &[]) - 12.0).abs() < f64::EPSILON);
        assert!((m.sum("y", &[]) - 1.5).abs() < f64::EPSILON);
        assert!(m.sum("z", &[]).abs() < f64::EPSILON);
    }
}
