//! Logging settings.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `PCC_LOG` | `info,provision=warn,migrate=warn` | a tracing filter, e.g. `info,client_api=debug`; the default keeps the embedded default's provisioning and migration steps (one line per statement) out of the way, `PCC_LOG=info` shows them |
//! | `PCC_LOG_FORMAT` | `auto` | `json` (one object per line), `text` (one readable line per event, colours on a terminal unless `NO_COLOR` is set), or `auto`: text when standard error is a terminal, JSON otherwise (a container, a pipe, a file) |

use super::{ConfigError, Env};

/// The filter without `PCC_LOG`.
pub const DEFAULT_FILTER: &str = "info,provision=warn,migrate=warn";

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// JSON lines.
    Json,
    /// Human-readable text.
    Text,
    /// Text on a terminal, JSON elsewhere (decided when logging starts).
    Auto,
}

impl LogFormat {
    /// The format to use when standard error `is_terminal` or not.
    pub fn resolve(self, is_terminal: bool) -> Self {
        match self {
            Self::Auto if is_terminal => Self::Text,
            Self::Auto => Self::Json,
            fixed => fixed,
        }
    }
}

/// Logging settings.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// The filter directive.
    pub filter: String,
    /// The format.
    pub format: LogFormat,
}

impl LogConfig {
    /// Reads the variables above.
    ///
    /// # Errors
    /// An unknown format.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let format = match env.var("PCC_LOG_FORMAT").as_deref().map(str::trim) {
            None | Some("auto") => LogFormat::Auto,
            Some("json") => LogFormat::Json,
            Some("text") => LogFormat::Text,
            Some(other) => {
                return Err(ConfigError::new(
                    "PCC_LOG_FORMAT",
                    format!("`{other}` is not `json`, `text` or `auto`"),
                ));
            }
        };
        Ok(Self {
            filter: env.var("PCC_LOG").unwrap_or_else(|| DEFAULT_FILTER.to_owned()),
            format,
        })
    }
}
