//! Setting values: the type a setting declares (`ValueSpec`), typed values
//! (`Value`), parsing of user text ("on", "50%", "1.5x", "20 minutes") and
//! range checks. Every value is checked here before it can reach an argv.
use std::fmt;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// A typed setting value. Enum names and strings are both `Text`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl Value {
    /// The key this value has in a platform `map` table: `true`, `50`, `1.5`, `left`.
    pub fn map_key(&self) -> String {
        match self {
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => format_number(*f),
            Value::Text(s) => s.clone(),
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// Converts a JSON value (from the agent or a journal).
    pub fn from_json(v: &serde_json::Value) -> Option<Value> {
        match v {
            serde_json::Value::Bool(b) => Some(Value::Bool(*b)),
            serde_json::Value::Number(n) => n
                .as_i64()
                .map(Value::Int)
                .or_else(|| n.as_f64().map(Value::Float)),
            serde_json::Value::String(s) => Some(Value::Text(s.clone())),
            _ => None,
        }
    }

    /// Converts a TOML value (from a preset).
    pub fn from_toml(v: &toml::Value) -> Option<Value> {
        match v {
            toml::Value::Boolean(b) => Some(Value::Bool(*b)),
            toml::Value::Integer(i) => Some(Value::Int(*i)),
            toml::Value::Float(f) => Some(Value::Float(*f)),
            toml::Value::String(s) => Some(Value::Text(s.clone())),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Text(s) => f.write_str(s),
            other => f.write_str(&other.map_key()),
        }
    }
}

/// Decimal text for a number: integers without a fraction, others with at
/// most six decimals and no trailing zeros (so 0.07 * 100 prints as 7).
pub fn format_number(f: f64) -> String {
    let rounded = (f * 1e6).round() / 1e6;
    if rounded.fract() == 0.0 && rounded.abs() < 9.0e15 {
        return format!("{}", rounded as i64);
    }
    let text = format!("{rounded:.6}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The kind of value a setting holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Bool,
    Int,
    Float,
    Enum,
    String,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "bool" => Kind::Bool,
            "int" => Kind::Int,
            "float" => Kind::Float,
            "enum" => Kind::Enum,
            "string" => Kind::String,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Kind::Bool => "bool",
            Kind::Int => "int",
            Kind::Float => "float",
            Kind::Enum => "enum",
            Kind::String => "string",
        }
    }
}

/// A setting's declared value type (the `[setting.value]` table, validated).
#[derive(Debug, Clone)]
pub struct ValueSpec {
    pub kind: Kind,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// Default size of a relative change ("a bit bigger").
    pub step: Option<f64>,
    pub unit: Option<String>,
    /// Enum names, in catalog order.
    pub values: Vec<String>,
    pub pattern: Option<Regex>,
}

/// Why a value was rejected. The message names the value and the limit.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, ValueError> {
    Err(ValueError(msg.into()))
}

/// A change relative to the current value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Relative {
    Toggle,
    /// Increase by the given amount, or by the setting's step.
    Increase(Option<f64>),
    Decrease(Option<f64>),
}

impl ValueSpec {
    /// Checks a typed value against the type and range; returns it in the
    /// setting's own representation (an integral float becomes an int for
    /// int settings, an int becomes a float for float settings).
    pub fn check(&self, value: &Value) -> Result<Value, ValueError> {
        let checked = self.check_form(value)?;
        self.check_range(&checked)?;
        Ok(checked)
    }

    /// The type, name and text rules of `check` without the range: what a
    /// value read back from the system must pass before it goes into a
    /// restore command (the system may hold a number outside knob's range,
    /// such as a volume of 150 %, and putting it back is right).
    pub fn check_form(&self, value: &Value) -> Result<Value, ValueError> {
        Ok(match (self.kind, value) {
            (Kind::Bool, Value::Bool(b)) => Value::Bool(*b),
            (Kind::Int, Value::Int(i)) => Value::Int(*i),
            (Kind::Int, Value::Float(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                Value::Int(*f as i64)
            }
            (Kind::Int, Value::Float(f)) => {
                return err(format!("{} is not a whole number", format_number(*f)))
            }
            (Kind::Float, Value::Float(f)) if f.is_finite() => Value::Float(*f),
            (Kind::Float, Value::Int(i)) => Value::Float(*i as f64),
            (Kind::Enum, Value::Text(s)) => match self.values.iter().find(|v| *v == s) {
                Some(v) => Value::Text(v.clone()),
                None => return err(format!("'{s}' is not one of: {}", self.values.join(", "))),
            },
            (Kind::String, Value::Text(s)) => {
                if s.chars().any(|c| c.is_control()) {
                    return err(format!("{s:?} contains control characters"));
                }
                // A value is often a whole argument of a command, where a
                // leading '-' would be read as an option (`pactl
                // set-default-sink --help`); no shipped string setting needs one.
                if s.starts_with('-') {
                    return err(format!(
                        "'{s}' starts with '-', which a command would read as an option"
                    ));
                }
                if let Some(re) = &self.pattern {
                    if !re.is_match(s) {
                        return err(format!("'{s}' does not match the pattern {}", re.as_str()));
                    }
                }
                Value::Text(s.clone())
            }
            (kind, other) => {
                return err(format!(
                    "expected {} value, got {}",
                    article(kind),
                    describe(other)
                ))
            }
        })
    }

    fn check_range(&self, checked: &Value) -> Result<(), ValueError> {
        if let Some(n) = checked.as_f64() {
            let unit = self.unit_suffix();
            if let Some(min) = self.min {
                if n < min {
                    return err(format!(
                        "{}{unit} is below the minimum {}{unit}",
                        format_number(n),
                        format_number(min)
                    ));
                }
            }
            if let Some(max) = self.max {
                if n > max {
                    return err(format!(
                        "{}{unit} is above the maximum {}{unit}",
                        format_number(n),
                        format_number(max)
                    ));
                }
            }
        }
        Ok(())
    }

    fn unit_suffix(&self) -> String {
        match self.unit.as_deref() {
            None => String::new(),
            Some("percent") => "%".to_string(),
            Some(u) => format!(" {u}"),
        }
    }

    /// Parses what a person typed: `on`, `off`, `50`, `50%`, `1.5x`,
    /// `20 minutes`, `1 hour` (for a setting in minutes), an enum name in any
    /// case with `-`, `_` or spaces. The result is range-checked.
    pub fn parse_text(&self, text: &str) -> Result<Value, ValueError> {
        let t = text.trim();
        let value = match self.kind {
            Kind::Bool => match t.to_ascii_lowercase().as_str() {
                "true" | "on" | "yes" | "1" | "enable" | "enabled" => Value::Bool(true),
                "false" | "off" | "no" | "0" | "disable" | "disabled" => Value::Bool(false),
                _ => {
                    return err(format!(
                        "'{t}' is not on or off (use on/off, true/false, yes/no)"
                    ))
                }
            },
            Kind::Int | Kind::Float => Value::Float(self.parse_number(t)?),
            Kind::Enum => {
                let norm = |s: &str| s.to_ascii_lowercase().replace(['-', ' '], "_");
                match self.values.iter().find(|v| norm(v) == norm(t)) {
                    Some(v) => Value::Text(v.clone()),
                    None => return err(format!("'{t}' is not one of: {}", self.values.join(", "))),
                }
            }
            Kind::String => Value::Text(text.to_string()),
        };
        self.check(&value)
    }

    fn parse_number(&self, t: &str) -> Result<f64, ValueError> {
        let re = number_re();
        let Some(caps) = re.captures(t) else {
            return err(format!("'{t}' is not a number"));
        };
        let n: f64 = caps[1]
            .parse()
            .map_err(|_| ValueError(format!("'{t}' is not a number")))?;
        let suffix = caps[2].trim().to_ascii_lowercase();
        if suffix.is_empty() {
            return Ok(n);
        }
        let Some(given) = unit_of(&suffix) else {
            return err(format!("'{t}': unknown unit '{suffix}'"));
        };
        let want = self.unit.as_deref().unwrap_or("");
        if given == want {
            return Ok(n);
        }
        match (seconds_per(given), seconds_per(want)) {
            (Some(g), Some(w)) => Ok(n * g / w),
            _ => err(format!(
                "'{t}': this setting is measured in {}",
                if want.is_empty() {
                    "plain numbers"
                } else {
                    want
                }
            )),
        }
    }

    /// Applies a relative change to the current value, clamped to the range.
    pub fn relative(&self, current: &Value, change: Relative) -> Result<Value, ValueError> {
        match (self.kind, change) {
            (Kind::Bool, Relative::Toggle) => match current {
                Value::Bool(b) => Ok(Value::Bool(!b)),
                other => err(format!("cannot toggle {}", describe(other))),
            },
            (Kind::Int | Kind::Float, Relative::Increase(by) | Relative::Decrease(by)) => {
                let Some(now) = current.as_f64() else {
                    return err(format!(
                        "the current value {} is not a number",
                        describe(current)
                    ));
                };
                let by = by.or(self.step).unwrap_or(1.0);
                let sign = if matches!(change, Relative::Increase(_)) {
                    1.0
                } else {
                    -1.0
                };
                let mut next = now + sign * by;
                if let Some(min) = self.min {
                    next = next.max(min);
                }
                if let Some(max) = self.max {
                    next = next.min(max);
                }
                if self.kind == Kind::Int {
                    next = next.round();
                }
                self.check(&Value::Float(next))
            }
            (Kind::Enum, Relative::Increase(_) | Relative::Decrease(_)) => {
                let Value::Text(now) = current else {
                    return err(format!(
                        "the current value {} is not a name",
                        describe(current)
                    ));
                };
                let pos = self.values.iter().position(|v| v == now).unwrap_or(0) as isize;
                let delta = if matches!(change, Relative::Increase(_)) {
                    1
                } else {
                    -1
                };
                let next = (pos + delta).clamp(0, self.values.len() as isize - 1) as usize;
                Ok(Value::Text(self.values[next].clone()))
            }
            (kind, _) => err(format!(
                "a {} setting cannot be changed that way",
                kind.name()
            )),
        }
    }
}

fn number_re() -> &'static Regex {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))\s*([A-Za-z%×]*)$")
            .expect("valid regex")
    })
}

/// Maps a written unit to a catalog unit name.
fn unit_of(suffix: &str) -> Option<&'static str> {
    Some(match suffix {
        "%" | "percent" | "pct" => "percent",
        "ms" | "millisecond" | "milliseconds" => "ms",
        "s" | "sec" | "secs" | "second" | "seconds" => "seconds",
        "m" | "min" | "mins" | "minute" | "minutes" => "minutes",
        "h" | "hr" | "hrs" | "hour" | "hours" => "hours",
        "px" | "pixel" | "pixels" => "px",
        "pt" | "point" | "points" => "pt",
        "x" | "×" | "times" => "factor",
        "k" | "kelvin" => "kelvin",
        "line" | "lines" => "lines",
        _ => return None,
    })
}

fn seconds_per(unit: &str) -> Option<f64> {
    Some(match unit {
        "ms" => 0.001,
        "seconds" => 1.0,
        "minutes" => 60.0,
        "hours" => 3600.0,
        _ => return None,
    })
}

fn article(kind: Kind) -> &'static str {
    match kind {
        Kind::Bool => "an on/off",
        Kind::Int => "a whole-number",
        Kind::Float => "a number",
        Kind::Enum => "a name",
        Kind::String => "a text",
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Int(i) => format!("the number {i}"),
        Value::Float(f) => format!("the number {}", format_number(*f)),
        Value::Text(s) => format!("the text '{s}'"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: Kind) -> ValueSpec {
        ValueSpec {
            kind,
            min: None,
            max: None,
            step: None,
            unit: None,
            values: vec![],
            pattern: None,
        }
    }

    #[test]
    fn parses_bool_words() {
        let s = spec(Kind::Bool);
        assert_eq!(s.parse_text("On").unwrap(), Value::Bool(true));
        assert_eq!(s.parse_text("disabled").unwrap(), Value::Bool(false));
        assert!(s
            .parse_text("maybe")
            .unwrap_err()
            .0
            .contains("'maybe' is not on or off"));
    }

    #[test]
    fn parses_units_and_checks_range() {
        let mut s = spec(Kind::Int);
        s.min = Some(0.0);
        s.max = Some(100.0);
        s.unit = Some("percent".into());
        assert_eq!(s.parse_text("50%").unwrap(), Value::Int(50));
        assert_eq!(
            s.parse_text("120%").unwrap_err().0,
            "120% is above the maximum 100%"
        );
        assert_eq!(
            s.parse_text("2.5").unwrap_err().0,
            "2.5 is not a whole number"
        );
        assert!(s
            .parse_text("5 minutes")
            .unwrap_err()
            .0
            .contains("measured in percent"));

        let mut m = spec(Kind::Int);
        m.unit = Some("minutes".into());
        assert_eq!(m.parse_text("20 minutes").unwrap(), Value::Int(20));
        assert_eq!(m.parse_text("1 hour").unwrap(), Value::Int(60));
        assert_eq!(m.parse_text("120s").unwrap(), Value::Int(2));

        let mut f = spec(Kind::Float);
        f.unit = Some("factor".into());
        assert_eq!(f.parse_text("1.5x").unwrap(), Value::Float(1.5));
        assert!(f.parse_text("big").unwrap_err().0.contains("not a number"));
    }

    #[test]
    fn enum_names_are_matched_loosely_but_stored_exactly() {
        let mut s = spec(Kind::Enum);
        s.values = vec!["prefer_dark".into(), "default".into()];
        assert_eq!(
            s.parse_text("Prefer-Dark").unwrap(),
            Value::Text("prefer_dark".into())
        );
        assert_eq!(
            s.parse_text("x").unwrap_err().0,
            "'x' is not one of: prefer_dark, default"
        );
        assert!(s
            .check(&Value::Bool(true))
            .unwrap_err()
            .0
            .contains("expected a name value"));
    }

    #[test]
    fn string_pattern_and_control_characters() {
        let mut s = spec(Kind::String);
        s.pattern = Some(Regex::new("^[A-Za-z ]+$").unwrap());
        assert!(s.parse_text("Cantarell").is_ok());
        assert!(s
            .parse_text("a;rm")
            .unwrap_err()
            .0
            .contains("does not match"));
        let plain = spec(Kind::String);
        assert!(plain.check(&Value::Text("a\nb".into())).is_err());
    }

    #[test]
    fn strings_never_start_with_a_dash() {
        let plain = spec(Kind::String);
        for text in ["--help", "-sevil.example.com:4713", "-x.desktop", "-"] {
            assert_eq!(
                plain.check(&Value::Text(text.into())).unwrap_err().0,
                format!("'{text}' starts with '-', which a command would read as an option")
            );
        }
        assert!(plain.check(&Value::Text("a-b".into())).is_ok());
    }

    #[test]
    fn check_form_skips_only_the_range() {
        let mut s = spec(Kind::Int);
        s.max = Some(100.0);
        assert_eq!(s.check_form(&Value::Int(150)).unwrap(), Value::Int(150));
        assert!(s.check(&Value::Int(150)).is_err());
        assert!(s.check_form(&Value::Text("x".into())).is_err());
        assert!(spec(Kind::Float)
            .check_form(&Value::Float(f64::NAN))
            .is_err());
    }

    #[test]
    fn relative_changes_clamp() {
        let mut s = spec(Kind::Int);
        s.min = Some(0.0);
        s.max = Some(100.0);
        s.step = Some(10.0);
        assert_eq!(
            s.relative(&Value::Int(95), Relative::Increase(None))
                .unwrap(),
            Value::Int(100)
        );
        assert_eq!(
            s.relative(&Value::Int(5), Relative::Decrease(None))
                .unwrap(),
            Value::Int(0)
        );
        assert_eq!(
            spec(Kind::Bool)
                .relative(&Value::Bool(true), Relative::Toggle)
                .unwrap(),
            Value::Bool(false)
        );
    }

    #[test]
    fn numbers_format_without_float_noise() {
        assert_eq!(format_number(0.07 * 100.0), "7");
        assert_eq!(format_number(0.5), "0.5");
        assert_eq!(format_number(1.25), "1.25");
        assert_eq!(format_number(-3.0), "-3");
    }
}
