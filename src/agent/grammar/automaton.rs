//! The prefix automaton for constrained decoding: a character trie over
//! every finite action string the catalog allows (`set a.b true`,
//! `toggle a.b`, `preset night`, ...), with slots where an open-ended value
//! follows (a number, a quoted string). Beam search asks it, token by token,
//! whether the text so far can still become a valid program.
use super::{GrammarCatalog, ValueKind, SEPARATOR};

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

/// Programs that stand alone: nothing comes before or after them. No verb
/// starts with their first letters, so they cannot collide with the trie.
const WORDS: [&str; 2] = ["none", "chat"];

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
    /// Matched `len` characters of the standalone program `WORDS[word]`.
    WordPrefix { word: u8, len: u8 },
    /// After a standalone program ("none", "chat"): nothing may follow.
    WordDone,
    /// Leading spaces before the first action.
    Start,
}

/// The trie of every action string; built once per catalog.
#[derive(Debug)]
pub struct PrefixAutomaton {
    nodes: Vec<Node>,
    /// How many of `WORDS` decoding may write ("chat" only with questions).
    words: usize,
}

impl PrefixAutomaton {
    pub fn new(catalog: &GrammarCatalog) -> Self {
        let mut automaton = PrefixAutomaton {
            nodes: vec![Node::default()],
            words: if catalog.questions { 2 } else { 1 },
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
        if catalog.questions {
            for id in catalog.settings.keys() {
                automaton.insert(&format!("get {id}"), Slot::Nothing);
            }
        }
        // "none" and "chat" have their own states so nothing can follow them.
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
            PrefixState::WordDone => true,
            PrefixState::Separator(_) | PrefixState::WordPrefix { .. } | PrefixState::Start => {
                false
            }
        }
    }

    fn step(&self, state: PrefixState, c: char) -> Option<PrefixState> {
        match state {
            PrefixState::Start => {
                if c == ' ' {
                    return Some(PrefixState::Start);
                }
                if let Some(word) = WORDS[..self.words].iter().position(|w| w.starts_with(c)) {
                    return self.step(
                        PrefixState::WordPrefix {
                            word: word as u8,
                            len: 0,
                        },
                        c,
                    );
                }
                self.child(0, c)
            }
            PrefixState::WordPrefix { word, len } => {
                let text = WORDS[word as usize].as_bytes();
                let k = len as usize;
                if !c.is_ascii() || text.get(k) != Some(&(c as u8)) {
                    return None;
                }
                Some(if k + 1 == text.len() {
                    PrefixState::WordDone
                } else {
                    PrefixState::WordPrefix { word, len: len + 1 }
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
            PrefixState::WordDone => None,
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
    use crate::agent::grammar::sample_catalog as catalog;
    use crate::agent::grammar::GrammarCatalog;

    fn accepts(a: &PrefixAutomaton, text: &str) -> bool {
        a.advance(a.start(), text).is_some_and(|s| a.can_end(s))
    }

    #[test]
    fn questions_and_chat_are_decoded_only_by_a_model_that_knows_them() {
        let knows = PrefixAutomaton::new(&catalog());
        for ok in [
            "get appearance.dark_mode",
            "get sound.volume ; get display.scale",
            "get sound.volume ; set appearance.dark_mode true",
            "chat",
            " chat",
        ] {
            assert!(accepts(&knows, ok), "should accept {ok:?}");
        }
        for bad in [
            "chat ; none",
            "chat ; set appearance.dark_mode true",
            "set appearance.dark_mode true ; chat",
            "get appearance.dark_mode true",
            "get nope.nothing",
            "chatter",
            "cha",
        ] {
            assert!(!accepts(&knows, bad), "should reject {bad:?}");
        }
        let older = PrefixAutomaton::new(&GrammarCatalog {
            questions: false,
            ..catalog()
        });
        for bad in ["get appearance.dark_mode", "chat"] {
            assert!(older.advance(older.start(), bad).is_none(), "{bad:?}");
        }
        assert!(accepts(&older, "none"));
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
