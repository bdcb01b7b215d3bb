//! A small builder for the dynamic queries of list endpoints: text with numbered placeholders and the
//! values bound to them, so filters are always parameters, never spliced text.

use tokio_postgres::types::ToSql;

/// SQL text and its parameters.
#[derive(Default)]
pub struct Sql {
    /// The statement text.
    pub text: String,
    params: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl std::fmt::Debug for Sql {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sql")
            .field("text", &self.text)
            .field("params", &self.params.len())
            .finish()
    }
}

impl Sql {
    /// Starts with `text`.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            params: Vec::new(),
        }
    }

    /// Binds `value` and returns its placeholder (`$n`).
    pub fn bind(&mut self, value: impl ToSql + Sync + Send + 'static) -> String {
        self.params.push(Box::new(value));
        format!("${}", self.params.len())
    }

    /// Appends text.
    pub fn push(&mut self, text: &str) {
        self.text.push_str(text);
    }

    /// The parameters as tokio-postgres wants them.
    pub fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect()
    }
}

/// Escapes LIKE wildcards so user text matches literally (the default escape character is `\`).
pub fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Splits a comma-separated filter value (`status=active,suspended`).
pub fn list(value: Option<&str>) -> Option<Vec<String>> {
    value.map(|v| {
        v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_count_up_and_wildcards_are_escaped() {
        let mut sql = Sql::new("SELECT 1 WHERE a = ");
        let a = sql.bind(1_i32);
        let b = sql.bind("x".to_owned());
        assert_eq!((a.as_str(), b.as_str()), ("$1", "$2"));
        assert_eq!(sql.params().len(), 2);
        assert_eq!(like_escape("50%_a\\b"), "50\\%\\_a\\\\b");
        assert_eq!(list(Some("a, b,,c")), Some(vec!["a".into(), "b".into(), "c".into()]));
    }
}
