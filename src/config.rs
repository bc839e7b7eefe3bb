//! The user's config file: `<config dir>/knob/config.toml` (or `--config PATH`,
//! or `KNOB_CONFIG`). Every field is optional; unknown fields are errors.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// When to use colour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct Config {
    /// gnome | kde | macos | windows; detected when absent.
    pub platform: Option<String>,
    /// A GGUF chat model for requests that are not about settings.
    pub chat_model: Option<PathBuf>,
    /// Inference threads; all cores when absent.
    pub threads: Option<usize>,
    pub color: Option<ColorChoice>,
    /// Below this confidence the agent shows search suggestions instead of a plan.
    pub confidence_threshold: Option<f32>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Already formatted as `file:line:col: message`.
    #[error("{0}\n(fix the config file, or run with --ignore-config to use the defaults)")]
    Parse(String),
}

/// Where the validated values are in the config text.
#[derive(Default, Deserialize)]
struct ValueSpans {
    platform: Option<toml::Spanned<toml::Value>>,
    threads: Option<toml::Spanned<toml::Value>>,
    confidence_threshold: Option<toml::Spanned<toml::Value>>,
}

/// Where the config file is looked for: `KNOB_CONFIG`, else `config.toml` in
/// knob's config directory (`KNOB_CONFIG_DIR` or the platform's).
pub fn default_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KNOB_CONFIG") {
        return Some(PathBuf::from(p));
    }
    crate::settings::paths::config_dir().map(|d| d.join("config.toml"))
}

impl Config {
    /// Parses config text; `path` only labels errors.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text)
            .map_err(|e| ConfigError::Parse(crate::toml_error::describe(path, text, &e)))?;
        config.validate(path, text)?;
        Ok(config)
    }

    /// Loads `path`; a missing file is the default config.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(source) => Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    fn validate(&self, path: &Path, text: &str) -> Result<(), ConfigError> {
        // The parsed text again, with where each checked value sits, so an
        // error points at the value and not at the first mention of its key
        // (a comment, or another key that contains its name).
        let spans: ValueSpans = toml::from_str(text).unwrap_or_default();
        let at = |span: Option<std::ops::Range<usize>>, msg: String| {
            let offset = span.map_or(0, |s| s.start);
            let (line, col) = crate::toml_error::line_col(text, offset);
            ConfigError::Parse(format!("{}:{line}:{col}: {msg}", path.display()))
        };
        if let Some(p) = &self.platform {
            if !["gnome", "kde", "macos", "windows"].contains(&p.as_str()) {
                return Err(at(
                    spans.platform.map(|v| v.span()),
                    format!("unknown platform '{p}', expected gnome, kde, macos or windows"),
                ));
            }
        }
        if self.threads == Some(0) || self.threads.is_some_and(|t| t > 256) {
            return Err(at(
                spans.threads.map(|v| v.span()),
                "threads must be between 1 and 256".to_string(),
            ));
        }
        if let Some(c) = self.confidence_threshold {
            if !(0.0..=1.0).contains(&c) {
                return Err(at(
                    spans.confidence_threshold.map(|v| v.span()),
                    format!("confidence_threshold {c} is outside 0..=1"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(Path::new("config.toml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn a_full_config_parses() {
        let c = parse(
            "platform = \"kde\"\nchat_model = \"/m/smol.gguf\"\nthreads = 2\ncolor = \"never\"\nconfidence_threshold = 0.6\n",
        )
        .unwrap();
        assert_eq!(c.platform.as_deref(), Some("kde"));
        assert_eq!(c.threads, Some(2));
        assert_eq!(c.color, Some(ColorChoice::Never));
        assert_eq!(c.confidence_threshold, Some(0.6));
    }

    #[test]
    fn an_empty_or_missing_config_is_the_default() {
        assert_eq!(parse("").unwrap(), Config::default());
        let missing = Config::load(Path::new("/nonexistent/knob/config.toml")).unwrap();
        assert_eq!(missing, Config::default());
    }

    #[test]
    fn each_error_names_file_line_and_column() {
        let cases = [
            (
                "threads = 2\ncolour = \"auto\"\n",
                "config.toml:2:1: unknown field `colour`",
            ),
            (
                "threads = \"two\"\n",
                "config.toml:1:11: invalid type: string \"two\", expected usize",
            ),
            (
                "platform = \"beos\"\n",
                "config.toml:1:12: unknown platform 'beos'",
            ),
            (
                "\n\nthreads = 0\n",
                "config.toml:3:11: threads must be between 1 and 256",
            ),
            (
                "confidence_threshold = 1.5\n",
                "config.toml:1:24: confidence_threshold 1.5 is outside 0..=1",
            ),
            (
                "color = \"blue\"\n",
                "config.toml:1:9: unknown variant `blue`",
            ),
            ("threads = [\n", "config.toml:1:12:"),
            // The value's line, not the first mention of the key.
            (
                "# threads: how many; threads = 4 is typical\nplatform = \"kde\"\nthreads = 0\n",
                "config.toml:3:11: threads must be between 1 and 256",
            ),
        ];
        for (text, want) in cases {
            let err = parse(text).unwrap_err();
            assert!(
                err.starts_with(want),
                "for {text:?}\n got: {err}\nwant: {want}"
            );
            assert!(err.contains("--ignore-config"), "{err}");
        }
    }
}
