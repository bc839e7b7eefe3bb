//! Which short queries are keyword searches. A settings search box answers
//! "bluetooth" or "night light" with results, not with a change: the query
//! names a thing and asks nothing of it. "no dnd", "volume +" and "gaming
//! preset" are just as short but ask for something, so they go to the model.
use std::collections::HashSet;

use super::search::{edit_distance, tokenize};
use crate::settings::Catalog;

/// Longest query (in words) that can be a keyword search.
const MAX_KEYWORD_WORDS: usize = 2;

/// Words that make a short query a request even when a setting's name uses
/// them too ("show", "stop", "no" occur in synonyms such as "no sleep").
const ACTION_WORDS: &[&str] = &[
    "on",
    "off",
    "no",
    "not",
    "yes",
    "enable",
    "enabled",
    "disable",
    "disabled",
    "use",
    "allow",
    "block",
    "up",
    "down",
    "more",
    "less",
    "bigger",
    "smaller",
    "larger",
    "louder",
    "quieter",
    "softer",
    "brighter",
    "dimmer",
    "darker",
    "lighter",
    "mute",
    "unmute",
    "increase",
    "decrease",
    "raise",
    "lower",
    "max",
    "min",
    "maximum",
    "minimum",
    "toggle",
    "show",
    "hide",
    "stop",
    "start",
    "faster",
    "slower",
    "longer",
    "shorter",
    "warmer",
    "cooler",
    "never",
    "always",
    "turn",
    "set",
    "make",
    "switch",
    "activate",
    "deactivate",
    "preset",
];

/// The words that name settings and presets, to tell a name from a request.
#[derive(Debug)]
pub struct KeywordRule {
    names: HashSet<String>,
}

impl KeywordRule {
    pub fn new(catalog: &Catalog) -> KeywordRule {
        let mut names = HashSet::new();
        for s in catalog.settings() {
            names.extend(tokenize(&s.title));
            names.extend(tokenize(&s.id.replace(['.', '_'], " ")));
            for syn in &s.synonyms {
                names.extend(tokenize(syn));
            }
        }
        for p in catalog.presets() {
            names.extend(tokenize(&p.title));
            names.extend(tokenize(&p.name));
            for syn in &p.synonyms {
                names.extend(tokenize(syn));
            }
        }
        KeywordRule { names }
    }

    /// True for one or two words that only name settings or presets (a typo
    /// of a name counts), with no digit, sign or word that asks for a change.
    pub fn is_keyword(&self, query: &str) -> bool {
        // "+", "-5", "=" ask for a change; a hyphen inside a word ("wi-fi") does not
        let signed = query
            .split_whitespace()
            .any(|t| t.starts_with(['+', '-', '=']) || t.ends_with(['+', '=']));
        let words = tokenize(query);
        !signed
            && (1..=MAX_KEYWORD_WORDS).contains(&words.len())
            && words.iter().all(|w| {
                !w.chars().any(|c| c.is_ascii_digit())
                    && !ACTION_WORDS.contains(&w.as_str())
                    && self.names_a_thing(w)
            })
    }

    fn names_a_thing(&self, word: &str) -> bool {
        if self.names.contains(word) {
            return true;
        }
        // a typo of a long name is still that name ("blutooth")
        let tolerance = match word.chars().count() {
            0..=4 => return false,
            5..=7 => 1,
            _ => 2,
        };
        self.names
            .iter()
            .any(|n| edit_distance(n, word) <= tolerance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> KeywordRule {
        KeywordRule::new(&crate::settings::load_catalog().unwrap())
    }

    #[test]
    fn names_of_things_are_keyword_searches() {
        let r = rule();
        for q in [
            "bluetooth",
            "mouse",
            "Night light",
            "wi-fi",
            "blutooth",
            "dark mode",
            "gaming",
        ] {
            assert!(r.is_keyword(q), "{q}");
        }
    }

    #[test]
    fn short_requests_are_not_keyword_searches() {
        let r = rule();
        for q in [
            "louder",
            "dark mode on",
            "volume 50",
            "turn off bluetooth",
            "make the text bigger",
            "no dnd",
            "webcam no",
            "volume +",
            "brightness -10",
            "imperial = us",
            "gaming preset",
            "bluetooth please",
            "kill widgets",
            "",
        ] {
            assert!(!r.is_keyword(q), "{q}");
        }
    }
}
