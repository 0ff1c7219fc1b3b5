//! Reading Prometheus text scrapes (`/metrics`).

use crate::http;

/// The body of `GET /metrics` on `port` (empty if the request fails).
pub fn scrape(port: u16) -> String {
    http::request(port, "GET", "/metrics", None)
        .map(|r| r.body)
        .unwrap_or_default()
}

/// The value of the first sample of metric `name` (any labels) in `scrape`.
pub fn sample(scrape: &str, name: &str) -> Option<f64> {
    scrape
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_plain_and_labelled_samples_but_not_prefixes() {
        let text = "# HELP a_total x\na_total_extra 9\na_total 3\nb{x=\"1\"} 2.5\n";
        assert_eq!(sample(text, "a_total"), Some(3.0));
        assert_eq!(sample(text, "b"), Some(2.5));
        assert_eq!(sample(text, "c"), None);
    }
}
