//! Placeholder replacement (`${name}`), done on a script's whole text before it is parsed, so
//! placeholders work inside strings, dollar-quoted bodies and COPY data exactly as in Flyway.
//!
//! Names are case-insensitive. Flyway's built-ins (`${flyway:defaultSchema}`, `${flyway:user}`,
//! ...) are supplied by the caller through [`Placeholders::with_builtin`]. An unknown name is an
//! error that names the placeholder, the file and the line.

use std::collections::BTreeMap;

/// A placeholder the configuration does not define.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{file}:{line}: no value provided for placeholder {prefix}{name}{suffix}; define it (flyway.placeholders.{name} \
     or FLYWAY_PLACEHOLDERS_{env}) or turn placeholderReplacement off",
    env = name.to_ascii_uppercase().replace([':', '.', '-'], "_")
)]
pub struct PlaceholderError {
    /// The placeholder name as written.
    pub name: String,
    /// The script it appears in.
    pub file: String,
    /// 1-based line of the placeholder.
    pub line: usize,
    /// The configured prefix (`${`).
    pub prefix: String,
    /// The configured suffix (`}`).
    pub suffix: String,
}

/// Placeholder values and syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholders {
    values: BTreeMap<String, String>,
    prefix: String,
    suffix: String,
}

impl Default for Placeholders {
    fn default() -> Self {
        Self {
            values: BTreeMap::new(),
            prefix: "${".into(),
            suffix: "}".into(),
        }
    }
}

impl Placeholders {
    /// Placeholders with the given prefix and suffix (Flyway's `placeholderPrefix`/`Suffix`).
    pub fn new(prefix: &str, suffix: &str) -> Self {
        Self {
            values: BTreeMap::new(),
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
        }
    }

    /// Defines a user placeholder (`flyway.placeholders.<name>`).
    pub fn insert(&mut self, name: &str, value: &str) {
        self.values.insert(name.to_lowercase(), value.to_owned());
    }

    /// Defines a built-in placeholder `flyway:<name>`.
    #[must_use]
    pub fn with_builtin(mut self, name: &str, value: &str) -> Self {
        self.insert(&format!("flyway:{name}"), value);
        self
    }

    /// Replaces every placeholder in `text`; `file` names the script in errors.
    ///
    /// # Errors
    /// [`PlaceholderError`] for the first placeholder without a value.
    pub fn replace(&self, text: &str, file: &str) -> Result<String, PlaceholderError> {
        if self.prefix.is_empty() || !text.contains(self.prefix.as_str()) {
            return Ok(text.to_owned());
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        let mut consumed = 0usize;
        while let Some(start) = rest.find(self.prefix.as_str()) {
            let after_prefix = &rest[start + self.prefix.len()..];
            // Like Flyway's reader: a prefix without a later suffix makes the rest of the file the
            // placeholder's name, which has no value.
            let len = after_prefix.find(self.suffix.as_str()).unwrap_or(after_prefix.len());
            let name = &after_prefix[..len];
            let Some(value) = self.values.get(&name.to_lowercase()) else {
                let line = 1 + text[..consumed + start].matches('\n').count();
                // An unterminated name runs to the end of the file: show its first line only.
                let first_line = name.lines().next().unwrap_or_default();
                let mut shown: String = first_line.chars().take(60).collect();
                if shown.len() < name.len() {
                    shown.push('…');
                }
                return Err(PlaceholderError {
                    name: shown,
                    file: file.to_owned(),
                    line,
                    prefix: self.prefix.clone(),
                    suffix: self.suffix.clone(),
                });
            };
            out.push_str(&rest[..start]);
            out.push_str(value);
            let skip = start + self.prefix.len() + len + self.suffix.len();
            consumed += skip;
            rest = &rest[skip..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placeholders() -> Placeholders {
        let mut p = Placeholders::default().with_builtin("defaultSchema", "app");
        p.insert("Owner", "client_api_owner");
        p
    }

    #[test]
    fn placeholders_are_replaced_everywhere_including_strings_and_dollar_bodies() {
        let text = "GRANT x TO ${owner};\nSELECT '${owner}', $$ ${OWNER} $$;";
        assert_eq!(
            placeholders().replace(text, "V1__x.sql").unwrap(),
            "GRANT x TO client_api_owner;\nSELECT 'client_api_owner', $$ client_api_owner $$;"
        );
    }

    #[test]
    fn builtins_use_the_flyway_namespace() {
        assert_eq!(
            placeholders()
                .replace("SET search_path = ${flyway:defaultSchema};", "f")
                .unwrap(),
            "SET search_path = app;"
        );
    }

    #[test]
    fn an_unknown_placeholder_names_itself_the_file_and_the_line() {
        let err = placeholders()
            .replace("SELECT 1;\n\nSELECT '${missing}';", "V7__x.sql")
            .unwrap_err();
        assert_eq!(
            (err.name.as_str(), err.file.as_str(), err.line),
            ("missing", "V7__x.sql", 3)
        );
        let message = err.to_string();
        assert!(
            message.contains("V7__x.sql:3") && message.contains("${missing}"),
            "{message}"
        );
    }

    #[test]
    fn the_line_counts_text_before_earlier_replacements() {
        let err = placeholders().replace("${owner}\n${owner}\n${nope}", "f").unwrap_err();
        assert_eq!(err.line, 3);
    }

    #[test]
    fn a_prefix_without_suffix_is_an_error_as_in_flyway() {
        let err = placeholders().replace("SELECT 1;\nSELECT '${';", "f").unwrap_err();
        assert_eq!((err.name.as_str(), err.line), ("';", 2));
        let err = placeholders().replace("SELECT '${oops\nSELECT 2;", "f").unwrap_err();
        assert_eq!(err.name, "oops…");
    }

    #[test]
    fn custom_prefix_and_suffix_work() {
        let mut p = Placeholders::new("@@", "@@");
        p.insert("x", "42");
        assert_eq!(p.replace("SELECT @@x@@, '${x}';", "f").unwrap(), "SELECT 42, '${x}';");
    }
}
