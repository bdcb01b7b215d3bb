//! Sizes (`500MB`, `1TiB`) and durations (`30s`, `5min`) as the manifest writes them, and
//! PostgreSQL's own spelling of time settings, so a catalog value (`statement_timeout=30s`,
//! `30000`, `0.5min`) compares equal to the manifest's (`30s`).
//!
//! Sizes use PostgreSQL's convention (and `pg_size_pretty`'s): `kB`/`KB`, `MB`, `GB`, `TB` are
//! powers of 1024, and so are `KiB`... `TiB`. Durations use PostgreSQL's time units: `us`,
//! `ms`, `s`, `min`, `h`, `d`; a bare number is milliseconds (the base unit of the three
//! timeouts we manage).

use std::fmt;

/// A number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, serde::Serialize)]
#[serde(transparent)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// Parses `500MB`, `1.5 GiB`, `100GB`, `1024` (bytes).
    ///
    /// # Errors
    /// A message naming the text when the number or the unit is not understood.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let value: f64 = num
            .parse()
            .map_err(|_| format!("{text:?} is not a size (write e.g. \"500MB\" or \"1TiB\")"))?;
        let factor: u64 = match unit.trim() {
            "" | "B" => 1,
            "kB" | "KB" | "KiB" => 1 << 10,
            "MB" | "MiB" => 1 << 20,
            "GB" | "GiB" => 1 << 30,
            "TB" | "TiB" => 1 << 40,
            other => {
                return Err(format!(
                    "unknown size unit {other:?} in {text:?} (use B, kB, MB, GB, TB)"
                ));
            }
        };
        let bytes = value * factor as f64;
        if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
            return Err(format!("{text:?} is out of range"));
        }
        Ok(Self(bytes.round() as u64))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
        let mut value = self.0 as f64;
        let mut unit = 0;
        while value >= 1024.0 && unit < UNITS.len() - 1 {
            value /= 1024.0;
            unit += 1;
        }
        if unit == 0 {
            write!(f, "{} B", self.0)
        } else {
            write!(f, "{value:.1} {}", UNITS[unit])
        }
    }
}

/// A duration in whole milliseconds; 0 means "disabled" for PostgreSQL timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, serde::Serialize)]
#[serde(transparent)]
pub struct Millis(pub u64);

impl Millis {
    /// Parses a PostgreSQL time value: `30s`, `5min`, `250ms`, `1h`, `2d`, `0`, `1500` (ms).
    ///
    /// # Errors
    /// A message naming the text when it is not a duration.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim().trim_matches('\'');
        let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let value: f64 = num
            .parse()
            .map_err(|_| format!("{text:?} is not a duration (write e.g. \"30s\", \"5min\", \"250ms\")"))?;
        let factor = match unit.trim() {
            "" | "ms" => 1.0,
            "us" => 0.001,
            "s" => 1_000.0,
            "min" => 60_000.0,
            "h" => 3_600_000.0,
            "d" => 86_400_000.0,
            other => {
                return Err(format!(
                    "unknown time unit {other:?} in {text:?} (use ms, s, min, h, d)"
                ));
            }
        };
        let ms = value * factor;
        if !ms.is_finite() || ms < 0.0 || ms > i32::MAX as f64 {
            return Err(format!("{text:?} is out of range for a PostgreSQL timeout"));
        }
        Ok(Self(ms.round() as u64))
    }

    /// As a std duration.
    pub fn duration(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.0)
    }
}

impl fmt::Display for Millis {
    /// The largest PostgreSQL unit that divides the value exactly: `30s`, `5min`, `250ms`, `0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0;
        if ms == 0 {
            return f.write_str("0");
        }
        for (unit, size) in [("d", 86_400_000), ("h", 3_600_000), ("min", 60_000), ("s", 1_000)] {
            if ms.is_multiple_of(size) {
                return write!(f, "{}{unit}", ms / size);
            }
        }
        write!(f, "{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_powers_of_1024() {
        assert_eq!(ByteSize::parse("500MB").unwrap().0, 500 << 20);
        assert_eq!(ByteSize::parse("1 TiB").unwrap().0, 1 << 40);
        assert_eq!(ByteSize::parse("1.5GB").unwrap().0, 3 << 29);
        assert_eq!(ByteSize::parse("100").unwrap().0, 100);
        assert!(ByteSize::parse("5 parsecs").unwrap_err().contains("parsecs"));
        assert!(ByteSize::parse("MB").is_err());
        assert_eq!(ByteSize(500 << 20).to_string(), "500.0 MB");
    }

    #[test]
    fn durations_follow_postgresql_units() {
        assert_eq!(Millis::parse("30s").unwrap(), Millis(30_000));
        assert_eq!(Millis::parse("5min").unwrap(), Millis(300_000));
        assert_eq!(Millis::parse("0.5min").unwrap(), Millis(30_000));
        assert_eq!(Millis::parse("30000").unwrap(), Millis(30_000));
        assert_eq!(Millis::parse("'1h'").unwrap(), Millis(3_600_000));
        assert!(Millis::parse("5 minutes").unwrap_err().contains("minutes"));
        assert!(Millis::parse("-1s").is_err());
        assert!(Millis::parse("100d").is_err());
    }

    #[test]
    fn durations_print_in_the_largest_exact_unit() {
        assert_eq!(Millis(30_000).to_string(), "30s");
        assert_eq!(Millis(300_000).to_string(), "5min");
        assert_eq!(Millis(1_500).to_string(), "1500ms");
        assert_eq!(Millis(0).to_string(), "0");
        assert_eq!(Millis(7_200_000).to_string(), "2h");
    }
}
