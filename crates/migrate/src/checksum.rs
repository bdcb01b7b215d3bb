//! Flyway's migration checksum (`ChecksumCalculator`): a CRC32 over the file's text read line by
//! line with the line terminators dropped, stored as a signed 32-bit integer.
//!
//! Because terminators are dropped, the checksum is the same for LF and CRLF files (a known sqlx
//! complaint: its checksums differ), and one leading byte-order mark is ignored. The algorithm and
//! its source: crates/migrate/FLYWAY.md, "Checksums". Vectors: `tests/data/checksums.tsv`.

/// A file that is not valid UTF-8 (Flyway decodes strictly, so it cannot checksum it either).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not valid UTF-8 at byte {offset}; save the file as UTF-8")]
pub struct ChecksumError {
    /// Byte offset of the first invalid sequence.
    pub offset: usize,
}

/// Decodes migration bytes as Flyway does: strict UTF-8, one leading U+FEFF removed.
///
/// # Errors
/// [`ChecksumError`] when the bytes are not valid UTF-8.
pub fn decode(bytes: &[u8]) -> Result<&str, ChecksumError> {
    let text = std::str::from_utf8(bytes).map_err(|e| ChecksumError {
        offset: e.valid_up_to(),
    })?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

/// The checksum Flyway stores for this text (already decoded, BOM already removed).
pub fn checksum_text(text: &str) -> i32 {
    let mut hasher = crc32fast::Hasher::new();
    // Every `\r` and `\n` is a line terminator (or half of one) and never reaches the CRC.
    for piece in text.as_bytes().split(|b| *b == b'\n' || *b == b'\r') {
        hasher.update(piece);
    }
    // Java stores the CRC's 32 bits as a signed int: reinterpret, do not convert.
    i32::from_ne_bytes(hasher.finalize().to_ne_bytes())
}

/// The checksum Flyway stores for a migration file's bytes.
///
/// # Errors
/// [`ChecksumError`] when the bytes are not valid UTF-8.
pub fn checksum_bytes(bytes: &[u8]) -> Result<i32, ChecksumError> {
    decode(bytes).map(checksum_text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes printf(1) notation: `'...'` with `\n`, `\r`, `\t`, `\\` and `\xHH`.
    fn printf_bytes(quoted: &str) -> Vec<u8> {
        let inner = quoted
            .strip_prefix('\'')
            .and_then(|s| s.strip_suffix('\''))
            .expect("quoted");
        let mut out = Vec::new();
        let mut bytes = inner.bytes();
        while let Some(b) = bytes.next() {
            if b != b'\\' {
                out.push(b);
                continue;
            }
            match bytes.next() {
                Some(b'n') => out.push(b'\n'),
                Some(b'r') => out.push(b'\r'),
                Some(b't') => out.push(b'\t'),
                Some(b'\\') => out.push(b'\\'),
                Some(b'x') => {
                    let hex: String = [bytes.next().unwrap(), bytes.next().unwrap()]
                        .iter()
                        .map(|b| *b as char)
                        .collect();
                    out.push(u8::from_str_radix(&hex, 16).unwrap());
                }
                other => panic!("unsupported escape {other:?}"),
            }
        }
        out
    }

    #[test]
    fn every_vector_in_checksums_tsv_matches() {
        let table = include_str!("../tests/data/checksums.tsv");
        let mut checked = 0;
        for line in table
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("bytes\t") && !l.is_empty())
        {
            let (bytes, expected) = line.split_once('\t').expect("two columns");
            let expected: i32 = expected.parse().expect("integer");
            assert_eq!(checksum_bytes(&printf_bytes(bytes)).unwrap(), expected, "{bytes}");
            checked += 1;
        }
        assert_eq!(checked, 11, "every vector was read");
    }

    #[test]
    fn line_endings_do_not_change_the_checksum() {
        let lf = checksum_text("CREATE TABLE t (id int);\nSELECT 1;\n");
        let crlf = checksum_text("CREATE TABLE t (id int);\r\nSELECT 1;\r\n");
        let cr = checksum_text("CREATE TABLE t (id int);\rSELECT 1;\r");
        assert_eq!(lf, crlf);
        assert_eq!(lf, cr);
    }

    #[test]
    fn a_leading_bom_is_ignored_but_only_one() {
        let plain = checksum_bytes(b"SELECT 1;").unwrap();
        assert_eq!(checksum_bytes(b"\xef\xbb\xbfSELECT 1;").unwrap(), plain);
        assert_ne!(checksum_bytes(b"\xef\xbb\xbf\xef\xbb\xbfSELECT 1;").unwrap(), plain);
    }

    #[test]
    fn trailing_spaces_change_the_checksum() {
        assert_ne!(checksum_text("SELECT 1;  \n"), checksum_text("SELECT 1;\n"));
    }

    #[test]
    fn invalid_utf8_is_an_error_naming_the_offset() {
        assert_eq!(checksum_bytes(b"SELECT '\xff';"), Err(ChecksumError { offset: 8 }));
    }

    #[test]
    fn the_crc_is_stored_as_a_signed_integer() {
        assert_eq!(checksum_text("a\rb"), -1_635_563_411);
    }
}
