//! The action grammar (docs/action-grammar.md): parsing the model's output into
//! typed actions, and a prefix automaton that constrained decoding uses to
//! reject any token that could not lead to a valid program.
//!
//! The automaton is a character trie over every finite action string the
//! catalog allows (`set a.b true`, `toggle a.b`, `preset night`, ...), with
//! slots where an open-ended value follows (a number, a quoted string).
use std::collections::BTreeMap;
use std::fmt;

/// What values a setting takes, as far as the grammar is concerned.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueKind {
    Bool,
    Int { min: i64, max: i64 },
    Float { min: f64, max: f64 },
    Enum(Vec<String>),
    String,
}

/// The settings and presets the grammar may name.
#[derive(Debug, Clone, Default)]
pub struct GrammarCatalog {
    pub settings: BTreeMap<String, ValueKind>,
    pub presets: Vec<String>,
}

/// A typed value in a `set` action.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Enum(String),
    Str(String),
}

/// One action of a program.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Set {
        setting: String,
        value: ActionValue,
    },
    Inc {
        setting: String,
        amount: Option<f64>,
    },
    Dec {
        setting: String,
        amount: Option<f64>,
    },
    Toggle {
        setting: String,
    },
    Preset {
        name: String,
    },
}

/// What the model said: nothing to do, or a list of actions.
#[derive(Debug, Clone, PartialEq)]
pub enum Program {
    None,
    Actions(Vec<Action>),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GrammarError {
    #[error("empty action")]
    Empty,
    #[error("unknown verb '{0}' (expected set, inc, dec, toggle, preset or none)")]
    UnknownVerb(String),
    #[error("unknown setting '{0}'")]
    UnknownSetting(String),
    #[error("unknown preset '{0}'")]
    UnknownPreset(String),
    #[error("'{verb}' needs {what}")]
    Missing {
        verb: &'static str,
        what: &'static str,
    },
    #[error("'{value}' is not a valid value for {setting}: {why}")]
    BadValue {
        setting: String,
        value: String,
        why: String,
    },
    #[error("'{0}' cannot be used with {1}")]
    WrongVerb(&'static str, String),
    #[error("unexpected text after the action: '{0}'")]
    Trailing(String),
}

/// The separator between actions of one program.
pub const SEPARATOR: &str = " ; ";

impl fmt::Display for ActionValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActionValue::Bool(b) => write!(f, "{b}"),
            ActionValue::Int(i) => write!(f, "{i}"),
            ActionValue::Float(x) => write!(f, "{}", format_number(*x)),
            ActionValue::Enum(e) => f.write_str(e),
            ActionValue::Str(s) => write!(f, "\"{s}\""),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Set { setting, value } => write!(f, "set {setting} {value}"),
            Action::Inc {
                setting,
                amount: None,
            } => write!(f, "inc {setting}"),
            Action::Inc {
                setting,
                amount: Some(a),
            } => {
                write!(f, "inc {setting} {}", format_number(*a))
            }
            Action::Dec {
                setting,
                amount: None,
            } => write!(f, "dec {setting}"),
            Action::Dec {
                setting,
                amount: Some(a),
            } => {
                write!(f, "dec {setting} {}", format_number(*a))
            }
            Action::Toggle { setting } => write!(f, "toggle {setting}"),
            Action::Preset { name } => write!(f, "preset {name}"),
        }
    }
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Program::None => f.write_str("none"),
            Program::Actions(actions) => {
                for (i, action) in actions.iter().enumerate() {
                    if i > 0 {
                        f.write_str(SEPARATOR)?;
                    }
                    write!(f, "{action}")?;
                }
                Ok(())
            }
        }
    }
}

/// Integers print without a fractional part, others in their shortest form.
fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

impl Action {
    /// The setting this action touches, if any.
    pub fn setting(&self) -> Option<&str> {
        match self {
            Action::Set { setting, .. }
            | Action::Inc { setting, .. }
            | Action::Dec { setting, .. }
            | Action::Toggle { setting } => Some(setting),
            Action::Preset { .. } => None,
        }
    }

    /// What the action changes: the setting id, or `preset:NAME` (the id
    /// search results use for presets).
    pub fn target(&self) -> String {
        match self {
            Action::Preset { name } => format!("preset:{name}"),
            other => other.setting().unwrap_or_default().to_string(),
        }
    }
}

/// Parses a whole program, checking every name and value against the catalog.
pub fn parse(text: &str, catalog: &GrammarCatalog) -> Result<Program, GrammarError> {
    let text = text.trim();
    if text == "none" {
        return Ok(Program::None);
    }
    let actions = text
        .split(';')
        .map(|part| parse_action(part.trim(), catalog))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Program::Actions(actions))
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

// ---------------------------------------------------------------------------
// Prefix automaton for constrained decoding.

/// What may follow a trie node besides its children.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Slot {
    #[default]
    Nothing,
    /// A number follows; `decimal` allows a fractional part, `negative` a sign.
    Number { decimal: bool, negative: bool },
    /// A double-quoted string follows.
    Quoted,
}

#[derive(Debug, Default)]
struct Node {
    /// Children sorted by character.
    children: Vec<(char, u32)>,
    /// An action may end here.
    terminal: bool,
    slot: Slot,
    /// Reached by a space after a terminal node, so it may also be the
    /// first character of the separator (`inc x` + ` ` could start ` ; `).
    also_separator: bool,
}

/// Longest number or quoted string the decoder may produce.
const MAX_SLOT_CHARS: u16 = 64;

/// Where the decoder is within a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefixState {
    /// At a node of the action trie.
    Trie(u32),
    /// Inside a number.
    Number {
        decimal: bool,
        len: u16,
        has_digit: bool,
        has_dot: bool,
        last_dot: bool,
    },
    /// Inside a quoted string; `closed` once the closing quote is read.
    Quoted { len: u16, closed: bool },
    /// Matched this many characters of the separator.
    Separator(u8),
    /// Matched this many characters of "none".
    NonePrefix(u8),
    /// After "none": nothing may follow.
    NoneDone,
    /// Leading spaces before the first action.
    Start,
}

/// The trie of every action string; built once per catalog.
#[derive(Debug)]
pub struct PrefixAutomaton {
    nodes: Vec<Node>,
}

impl PrefixAutomaton {
    pub fn new(catalog: &GrammarCatalog) -> Self {
        let mut automaton = PrefixAutomaton {
            nodes: vec![Node::default()],
        };
        for (id, kind) in &catalog.settings {
            match kind {
                ValueKind::Bool => {
                    automaton.insert(&format!("set {id} true"), Slot::Nothing);
                    automaton.insert(&format!("set {id} false"), Slot::Nothing);
                    automaton.insert(&format!("toggle {id}"), Slot::Nothing);
                }
                ValueKind::Enum(values) => {
                    for v in values {
                        automaton.insert(&format!("set {id} {v}"), Slot::Nothing);
                    }
                }
                ValueKind::Int { min, .. } => automaton.insert_numeric(id, false, *min < 0),
                ValueKind::Float { min, .. } => automaton.insert_numeric(id, true, *min < 0.0),
                ValueKind::String => {
                    let node = automaton.insert_path(&format!("set {id} "));
                    automaton.nodes[node as usize].slot = Slot::Quoted;
                }
            }
        }
        for preset in &catalog.presets {
            automaton.insert(&format!("preset {preset}"), Slot::Nothing);
        }
        // "none" is handled by its own state so nothing can follow it.
        automaton
    }

    fn insert_numeric(&mut self, id: &str, decimal: bool, negative: bool) {
        let set = self.insert_path(&format!("set {id} "));
        self.nodes[set as usize].slot = Slot::Number { decimal, negative };
        for verb in ["inc", "dec"] {
            let end = self.insert_path(&format!("{verb} {id}"));
            self.nodes[end as usize].terminal = true;
            let amount = self.insert_path(&format!("{verb} {id} "));
            // Amounts are positive; a fractional amount is fine for any numeric setting.
            self.nodes[amount as usize].slot = Slot::Number {
                decimal: true,
                negative: false,
            };
            self.nodes[amount as usize].also_separator = true;
        }
    }

    fn insert(&mut self, text: &str, slot: Slot) {
        let end = self.insert_path(text);
        let node = &mut self.nodes[end as usize];
        node.terminal = true;
        if slot != Slot::Nothing {
            node.slot = slot;
        }
    }

    fn insert_path(&mut self, text: &str) -> u32 {
        let mut at = 0u32;
        for c in text.chars() {
            let children = &self.nodes[at as usize].children;
            at = match children.binary_search_by_key(&c, |&(ch, _)| ch) {
                Ok(i) => children[i].1,
                Err(i) => {
                    let new = self.nodes.len() as u32;
                    self.nodes[at as usize].children.insert(i, (c, new));
                    self.nodes.push(Node::default());
                    new
                }
            };
        }
        at
    }

    /// The state before any output.
    pub fn start(&self) -> PrefixState {
        PrefixState::Start
    }

    /// Feeds `text` (one token's characters) from `state`; `None` if the
    /// result cannot be the prefix of any valid program.
    pub fn advance(&self, mut state: PrefixState, text: &str) -> Option<PrefixState> {
        for c in text.chars() {
            state = self.step(state, c)?;
        }
        Some(state)
    }

    /// Whether the program may end in `state`.
    pub fn can_end(&self, state: PrefixState) -> bool {
        match state {
            PrefixState::Trie(node) => self.nodes[node as usize].terminal,
            PrefixState::Number {
                has_digit,
                last_dot,
                ..
            } => has_digit && !last_dot,
            PrefixState::Quoted { closed, .. } => closed,
            PrefixState::NoneDone => true,
            PrefixState::Separator(_) | PrefixState::NonePrefix(_) | PrefixState::Start => false,
        }
    }

    fn step(&self, state: PrefixState, c: char) -> Option<PrefixState> {
        const NONE: &[u8] = b"none";
        match state {
            PrefixState::Start => {
                if c == ' ' {
                    return Some(PrefixState::Start);
                }
                // No verb starts with 'n', so "none" cannot collide with the trie.
                if c == 'n' {
                    return Some(PrefixState::NonePrefix(1));
                }
                self.child(0, c)
            }
            PrefixState::NonePrefix(k) => {
                let k = k as usize;
                if NONE.get(k) != Some(&(c as u8)) || !c.is_ascii() {
                    return None;
                }
                Some(if k + 1 == NONE.len() {
                    PrefixState::NoneDone
                } else {
                    PrefixState::NonePrefix(k as u8 + 1)
                })
            }
            PrefixState::Separator(k) => {
                let sep = SEPARATOR.as_bytes();
                let k = k as usize;
                if sep[k] as char != c {
                    return None;
                }
                if k + 1 == sep.len() {
                    Some(PrefixState::Trie(0))
                } else {
                    Some(PrefixState::Separator(k as u8 + 1))
                }
            }
            PrefixState::NoneDone => None,
            PrefixState::Trie(node) => {
                if let Some(next) = self.child(node, c) {
                    return Some(next);
                }
                let n = &self.nodes[node as usize];
                if n.terminal && c == ' ' {
                    return Some(PrefixState::Separator(1));
                }
                if n.also_separator && c == SEPARATOR.as_bytes()[1] as char {
                    return Some(PrefixState::Separator(2));
                }
                match n.slot {
                    Slot::Number { decimal, negative } => {
                        let start = PrefixState::Number {
                            decimal,
                            len: 0,
                            has_digit: false,
                            has_dot: false,
                            last_dot: false,
                        };
                        if c == '-' && negative {
                            return Some(PrefixState::Number {
                                decimal,
                                len: 1,
                                has_digit: false,
                                has_dot: false,
                                last_dot: false,
                            });
                        }
                        self.step(start, c)
                    }
                    Slot::Quoted if c == '"' => Some(PrefixState::Quoted {
                        len: 0,
                        closed: false,
                    }),
                    _ => None,
                }
            }
            PrefixState::Number {
                decimal,
                len,
                has_digit,
                has_dot,
                last_dot,
            } => {
                if len >= MAX_SLOT_CHARS {
                    return None;
                }
                match c {
                    '0'..='9' => Some(PrefixState::Number {
                        decimal,
                        len: len + 1,
                        has_digit: true,
                        has_dot,
                        last_dot: false,
                    }),
                    '.' if decimal && has_digit && !has_dot => Some(PrefixState::Number {
                        decimal,
                        len: len + 1,
                        has_digit,
                        has_dot: true,
                        last_dot: true,
                    }),
                    ' ' if has_digit && !last_dot => Some(PrefixState::Separator(1)),
                    _ => None,
                }
            }
            PrefixState::Quoted { len, closed } => {
                if closed {
                    return (c == ' ').then_some(PrefixState::Separator(1));
                }
                match c {
                    '"' => Some(PrefixState::Quoted { len, closed: true }),
                    // ';' separates actions, so parse() could not split on it.
                    c if c.is_control() || c == ';' || len >= MAX_SLOT_CHARS => None,
                    _ => Some(PrefixState::Quoted {
                        len: len + 1,
                        closed: false,
                    }),
                }
            }
        }
    }

    fn child(&self, node: u32, c: char) -> Option<PrefixState> {
        let children = &self.nodes[node as usize].children;
        children
            .binary_search_by_key(&c, |&(ch, _)| ch)
            .ok()
            .map(|i| PrefixState::Trie(children[i].1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> GrammarCatalog {
        let mut settings = BTreeMap::new();
        settings.insert("appearance.dark_mode".to_string(), ValueKind::Bool);
        settings.insert(
            "sound.volume".to_string(),
            ValueKind::Int { min: 0, max: 100 },
        );
        settings.insert(
            "display.scale".to_string(),
            ValueKind::Float { min: 0.5, max: 3.0 },
        );
        settings.insert(
            "time.offset".to_string(),
            ValueKind::Int { min: -12, max: 14 },
        );
        settings.insert(
            "dock.position".to_string(),
            ValueKind::Enum(vec!["left".into(), "bottom".into(), "right".into()]),
        );
        settings.insert("time.timezone".to_string(), ValueKind::String);
        GrammarCatalog {
            settings,
            presets: vec!["night".into(), "focus".into()],
        }
    }

    fn accepts(a: &PrefixAutomaton, text: &str) -> bool {
        a.advance(a.start(), text).is_some_and(|s| a.can_end(s))
    }

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
        ] {
            let program = parse(text, &cat).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(program.to_string(), text);
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

    #[test]
    fn automaton_accepts_exactly_the_well_formed_programs() {
        let a = PrefixAutomaton::new(&catalog());
        for ok in [
            "none",
            "set appearance.dark_mode true",
            "toggle appearance.dark_mode",
            "set sound.volume 30",
            "set time.offset -5",
            "set display.scale 1.25",
            "inc sound.volume",
            "inc sound.volume 2.5",
            "dec sound.volume ; set dock.position right",
            "set time.timezone \"Asia/Tokyo\" ; preset focus",
            "  preset night",
        ] {
            assert!(accepts(&a, ok), "should accept {ok:?}");
        }
        for bad in [
            "",
            "none ; preset night",
            "set appearance.dark_mode maybe",
            "set sound.volume -5",
            "set sound.volume 1.5",
            "set display.scale 1.",
            "toggle sound.volume",
            "set dock.position top",
            "set time.timezone Asia",
            "preset night ;",
            "set appearance.dark_mode true;preset night",
            "inc appearance.dark_mode",
        ] {
            assert!(!accepts(&a, bad), "should reject {bad:?}");
        }
    }

    #[test]
    fn every_prefix_of_a_valid_program_is_live_and_token_splits_do_not_matter() {
        let a = PrefixAutomaton::new(&catalog());
        let text = "dec sound.volume 20 ; set dock.position bottom ; toggle appearance.dark_mode";
        let mut state = a.start();
        for (i, c) in text.char_indices() {
            state = a
                .advance(state, &c.to_string())
                .unwrap_or_else(|| panic!("dead after {:?}", &text[..=i]));
        }
        assert!(a.can_end(state));
        // Feeding in uneven chunks reaches the same state.
        let chunked = [
            "dec sou",
            "nd.volume",
            " 2",
            "0 ;",
            " set dock.position b",
            "ottom ; toggle appearance.dark_mode",
        ];
        let s2 = chunked
            .iter()
            .try_fold(a.start(), |s, t| a.advance(s, t))
            .unwrap();
        assert_eq!(s2, state);
    }

    #[test]
    fn numbers_and_strings_are_bounded() {
        let a = PrefixAutomaton::new(&catalog());
        let long_number = format!("set sound.volume {}", "9".repeat(100));
        assert!(a.advance(a.start(), &long_number).is_none());
        let long_string = format!("set time.timezone \"{}\"", "x".repeat(100));
        assert!(a.advance(a.start(), &long_string).is_none());
        assert!(a.advance(a.start(), "set time.timezone \"a\nb\"").is_none());
        assert!(a.advance(a.start(), "set time.timezone \"a;b\"").is_none());
    }
}
