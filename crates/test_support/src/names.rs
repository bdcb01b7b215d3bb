//! Names for per-test objects: readable (derived from the test's name, which libtest gives the
//! test's thread) and unique (a random suffix), within PostgreSQL's 63-byte identifier limit.

use rand::distr::{Alphanumeric, SampleString};

/// A lower-case identifier `<prefix>_<test name>_<random>`, at most 63 bytes.
pub fn unique_name(prefix: &str) -> String {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("test");
    // "tests::module::it_works" -> "it_works": the last segment is what a reader recognises.
    let test = test.rsplit("::").next().unwrap_or(test);
    let cleaned: String = test
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let suffix = Alphanumeric.sample_string(&mut rand::rng(), 6).to_ascii_lowercase();
    let budget = 63 - prefix.len() - suffix.len() - 2;
    let cleaned: String = cleaned.chars().take(budget).collect();
    format!("{prefix}_{cleaned}_{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_postgres_identifiers_and_differ() {
        let a = unique_name("t");
        let b = unique_name("t");
        assert!(
            a.len() <= 63 && a.starts_with("t_names_fit_postgres_identifiers_and_differ_"),
            "{a}"
        );
        assert_ne!(a, b);
        let long = std::thread::Builder::new()
            .name("x".repeat(200))
            .spawn(|| unique_name("tpl"))
            .expect("spawn")
            .join()
            .expect("join");
        assert_eq!(long.len(), 63, "{long}");
    }
}
