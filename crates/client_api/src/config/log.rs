//! Logging settings.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `PCC_LOG` | `info` | a tracing filter, e.g. `info,client_api=debug` |
//! | `PCC_LOG_FORMAT` | `json` | `json` (one object per line) or `text` (for a terminal) |

use super::{ConfigError, Env};

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// JSON lines.
    Json,
    /// Human-readable text.
    Text,
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
            None | Some("json") => LogFormat::Json,
            Some("text") => LogFormat::Text,
            Some(other) => {
                return Err(ConfigError::new(
                    "PCC_LOG_FORMAT",
                    format!("`{other}` is not `json` or `text`"),
                ));
            }
        };
        Ok(Self {
            filter: env.var("PCC_LOG").unwrap_or_else(|| "info".to_owned()),
            format,
        })
    }
}
