//! Text to a typed [`Program`]: every verb, name and value is checked
//! against the catalog, and errors say what was wrong.
use super::{Action, ActionValue, GrammarCatalog, GrammarError, Program, ValueKind};

/// Parses a whole program, checking every name and value against the catalog.
pub fn parse(text: &str, catalog: &GrammarCatalog) -> Result<Program, GrammarError> {
    let text = text.trim();
    match text {
        "none" => return Ok(Program::None),
        "chat" => return Ok(Program::Chat),
        _ => {}
    }
    let actions = text
        .split(';')
        .map(|part| parse_action(part.trim(), catalog))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Program::Actions(actions))
}

/// Parses a program that is a label (training data, expected answers): on
/// top of [`parse`], each setting and preset appears at most once, as
/// docs/action-grammar.md asks of every label (the engine keeps only the
/// first action on a setting, so a second one would teach nothing).
pub fn parse_label(text: &str, catalog: &GrammarCatalog) -> Result<Program, GrammarError> {
    let program = parse(text, catalog)?;
    if let Program::Actions(actions) = &program {
        for (i, action) in actions.iter().enumerate() {
            let target = action.target();
            if actions[..i].iter().any(|a| a.target() == target) {
                return Err(GrammarError::Repeated(target));
            }
        }
    }
    Ok(program)
}

fn parse_action(text: &str, catalog: &GrammarCatalog) -> Result<Action, GrammarError> {
    let mut words = text.splitn(3, ' ');
    let verb = words
        .next()
        .filter(|w| !w.is_empty())
        .ok_or(GrammarError::Empty)?;
    let target = words.next();
    let rest = words.next().map(str::trim).filter(|r| !r.is_empty());
    match verb {
        "preset" => {
            let name = target.ok_or(GrammarError::Missing {
                verb: "preset",
                what: "a preset name",
            })?;
            if let Some(rest) = rest {
                return Err(GrammarError::Trailing(rest.to_string()));
            }
            if !catalog.presets.iter().any(|p| p == name) {
                return Err(GrammarError::UnknownPreset(name.to_string()));
            }
            Ok(Action::Preset {
                name: name.to_string(),
            })
        }
        "get" => {
            let setting = target.ok_or(GrammarError::Missing {
                verb: "get",
                what: "a setting",
            })?;
            if let Some(rest) = rest {
                return Err(GrammarError::Trailing(rest.to_string()));
            }
            if !catalog.settings.contains_key(setting) {
                return Err(GrammarError::UnknownSetting(setting.to_string()));
            }
            Ok(Action::Get {
                setting: setting.to_string(),
            })
        }
        "set" | "inc" | "dec" | "toggle" => {
            let verb_name: &'static str = match verb {
                "set" => "set",
                "inc" => "inc",
                "dec" => "dec",
                _ => "toggle",
            };
            let setting = target.ok_or(GrammarError::Missing {
                verb: verb_name,
                what: "a setting",
            })?;
            let kind = catalog
                .settings
                .get(setting)
                .ok_or_else(|| GrammarError::UnknownSetting(setting.to_string()))?;
            let setting = setting.to_string();
            match verb_name {
                "set" => {
                    let raw = rest.ok_or(GrammarError::Missing {
                        verb: "set",
                        what: "a value",
                    })?;
                    let value = parse_value(&setting, kind, raw)?;
                    Ok(Action::Set { setting, value })
                }
                "toggle" => {
                    if *kind != ValueKind::Bool {
                        return Err(GrammarError::WrongVerb("toggle", setting));
                    }
                    if let Some(rest) = rest {
                        return Err(GrammarError::Trailing(rest.to_string()));
                    }
                    Ok(Action::Toggle { setting })
                }
                _ => {
                    if !matches!(kind, ValueKind::Int { .. } | ValueKind::Float { .. }) {
                        return Err(GrammarError::WrongVerb(verb_name, setting));
                    }
                    let amount = match rest {
                        None => None,
                        Some(raw) => Some(parse_amount(&setting, raw)?),
                    };
                    Ok(if verb_name == "inc" {
                        Action::Inc { setting, amount }
                    } else {
                        Action::Dec { setting, amount }
                    })
                }
            }
        }
        other => Err(GrammarError::UnknownVerb(other.to_string())),
    }
}

fn bad_value(setting: &str, raw: &str, why: impl Into<String>) -> GrammarError {
    GrammarError::BadValue {
        setting: setting.to_string(),
        value: raw.to_string(),
        why: why.into(),
    }
}

fn parse_amount(setting: &str, raw: &str) -> Result<f64, GrammarError> {
    match raw.parse::<f64>() {
        Ok(a) if a.is_finite() && a > 0.0 => Ok(a),
        _ => Err(bad_value(setting, raw, "an amount is a positive number")),
    }
}

fn parse_value(setting: &str, kind: &ValueKind, raw: &str) -> Result<ActionValue, GrammarError> {
    match kind {
        ValueKind::Bool => match raw {
            "true" => Ok(ActionValue::Bool(true)),
            "false" => Ok(ActionValue::Bool(false)),
            _ => Err(bad_value(setting, raw, "expected true or false")),
        },
        ValueKind::Int { min, max } => {
            let v: i64 = raw
                .parse()
                .map_err(|_| bad_value(setting, raw, "expected a whole number"))?;
            if v < *min || v > *max {
                return Err(bad_value(
                    setting,
                    raw,
                    format!("out of range {min}..={max}"),
                ));
            }
            Ok(ActionValue::Int(v))
        }
        ValueKind::Float { min, max } => {
            let v: f64 = raw
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite())
                .ok_or_else(|| bad_value(setting, raw, "expected a number"))?;
            if v < *min || v > *max {
                return Err(bad_value(
                    setting,
                    raw,
                    format!("out of range {min}..={max}"),
                ));
            }
            Ok(ActionValue::Float(v))
        }
        ValueKind::Enum(values) => {
            if values.iter().any(|v| v == raw) {
                Ok(ActionValue::Enum(raw.to_string()))
            } else {
                Err(bad_value(
                    setting,
                    raw,
                    format!("expected one of {}", values.join(", ")),
                ))
            }
        }
        ValueKind::String => {
            let inner = raw
                .strip_prefix('"')
                .and_then(|r| r.strip_suffix('"'))
                .filter(|s| !s.contains('"'))
                .ok_or_else(|| bad_value(setting, raw, "expected a quoted string"))?;
            Ok(ActionValue::Str(inner.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::grammar::sample_catalog as catalog;

    #[test]
    fn parses_every_verb_and_prints_it_back() {
        let cat = catalog();
        for text in [
            "set appearance.dark_mode true",
            "set sound.volume 30",
            "set display.scale 1.5",
            "set dock.position left",
            "set time.timezone \"Europe/Paris\"",
            "inc sound.volume",
            "dec sound.volume 20",
            "toggle appearance.dark_mode",
            "preset night",
            "set appearance.dark_mode true ; inc display.scale",
            "none",
            "chat",
            "get appearance.dark_mode",
            "get sound.volume ; set appearance.dark_mode false",
        ] {
            let program = parse(text, &cat).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(program.to_string(), text);
        }
    }

    #[test]
    fn a_quoted_value_is_literal() {
        // No escapes: the training labels write a Windows path as the user typed it.
        let cat = catalog();
        let text = r#"set time.timezone "C:\Users\ana\x""#;
        let Ok(Program::Actions(actions)) = parse(text, &cat) else {
            panic!("{text} should parse");
        };
        assert!(matches!(
            &actions[0],
            Action::Set { value: ActionValue::Str(v), .. } if v == r"C:\Users\ana\x"
        ));
        assert!(parse(r#"set time.timezone "say "hi" ""#, &cat).is_err());
    }

    #[test]
    fn a_label_changes_each_setting_and_preset_once() {
        let cat = catalog();
        for ok in [
            "none",
            "set sound.volume 3 ; inc display.scale ; preset night",
        ] {
            assert_eq!(parse_label(ok, &cat), parse(ok, &cat), "{ok}");
        }
        for (text, twice) in [
            ("set sound.volume 20 ; inc sound.volume", "sound.volume"),
            ("get sound.volume ; set sound.volume 2", "sound.volume"),
            (
                "preset night ; set sound.volume 2 ; preset night",
                "preset:night",
            ),
        ] {
            assert!(parse(text, &cat).is_ok(), "{text}");
            let err = parse_label(text, &cat).expect_err(text).to_string();
            assert!(
                err.starts_with(&format!("'{twice}' is changed twice")),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn rejects_bad_programs_with_reasons() {
        let cat = catalog();
        let cases = [
            ("set sound.volume 101", "out of range 0..=100"),
            ("set sound.volume loud", "expected a whole number"),
            ("set appearance.dark_mode yes", "expected true or false"),
            (
                "toggle sound.volume",
                "'toggle' cannot be used with sound.volume",
            ),
            (
                "inc appearance.dark_mode",
                "'inc' cannot be used with appearance.dark_mode",
            ),
            ("set wifi.power true", "unknown setting 'wifi.power'"),
            ("preset party", "unknown preset 'party'"),
            ("get wifi.power", "unknown setting 'wifi.power'"),
            (
                "get sound.volume 3",
                "unexpected text after the action: '3'",
            ),
            ("get", "'get' needs a setting"),
            ("chat ; set sound.volume 3", "unknown verb 'chat'"),
            ("make sound.volume 3", "unknown verb 'make'"),
            (
                "set dock.position top",
                "expected one of left, bottom, right",
            ),
            ("dec sound.volume -5", "an amount is a positive number"),
            ("set sound.volume", "'set' needs a value"),
            (
                "toggle appearance.dark_mode now",
                "unexpected text after the action: 'now'",
            ),
        ];
        for (text, want) in cases {
            let err = parse(text, &cat).expect_err(text).to_string();
            assert!(err.contains(want), "{text}: got '{err}', want '{want}'");
        }
    }
}
