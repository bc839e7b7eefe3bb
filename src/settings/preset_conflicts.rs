//! A preset's values must not fight over one backend key: two settings that
//! write the same key on the same platform (a shared gsettings key, or one
//! setting's `also` key) must write the same text there, or the result would
//! depend on the order of the plan. (This check was in
//! scripts/check_catalog.py.)
use std::collections::HashMap;

use super::backend::encode;
use super::catalog::Setting;
use super::platform::Platform;
use super::value::Value;

/// Two values of one preset that write different texts to one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The index (in the preset's values) of the later value, where the
    /// error is reported.
    pub later: usize,
    /// The index of the earlier value it contradicts.
    pub earlier: usize,
    /// What each writes; `None` where that platform's map has no text for
    /// the value.
    pub texts: (Option<String>, Option<String>),
    /// The backend and key: `gsettings org.gnome.desktop.interface gtk-theme`.
    pub key: String,
    /// The platforms on which they collide.
    pub platforms: Vec<Platform>,
}

impl Conflict {
    /// The message, without the position.
    pub fn message(&self, ids: &[&str]) -> String {
        let show = |t: &Option<String>| match t {
            Some(t) => format!("'{t}'"),
            None => "nothing (not available there)".to_string(),
        };
        let platforms: Vec<&str> = self.platforms.iter().map(|p| p.name()).collect();
        format!(
            "'{}' and '{}' both write {} on {}, with different values ({} and {})",
            ids[self.earlier],
            ids[self.later],
            self.key,
            platforms.join(", "),
            show(&self.texts.0),
            show(&self.texts.1),
        )
    }
}

/// The conflicts among a preset's checked values, each pair and key once
/// (with every platform it collides on), in the order of the later value.
pub fn conflicts(values: &[(&Setting, &Value)]) -> Vec<Conflict> {
    let mut found: Vec<Conflict> = Vec::new();
    for platform in Platform::ALL {
        // Key -> the value that last wrote it and its text.
        let mut written: HashMap<String, (usize, Option<String>)> = HashMap::new();
        for (i, (setting, value)) in values.iter().enumerate() {
            let Some(mapping) = setting.mapping(platform) else {
                continue;
            };
            for key in std::iter::once(&mapping.primary).chain(&mapping.also) {
                let name = format!("{} {}", key.target.backend().name(), key.label());
                let text = encode(key, &setting.value, value).ok();
                if let Some((j, before)) = written.get(&name) {
                    if *before != text {
                        record(&mut found, i, *j, &name, platform, before, &text);
                    }
                }
                written.insert(name, (i, text));
            }
        }
    }
    found.sort_by_key(|c| (c.later, c.earlier));
    found
}

fn record(
    found: &mut Vec<Conflict>,
    later: usize,
    earlier: usize,
    key: &str,
    platform: Platform,
    before: &Option<String>,
    text: &Option<String>,
) {
    if let Some(c) = found
        .iter_mut()
        .find(|c| c.later == later && c.earlier == earlier && c.key == key)
    {
        c.platforms.push(platform);
        return;
    }
    found.push(Conflict {
        later,
        earlier,
        texts: (before.clone(), text.clone()),
        key: key.to_string(),
        platforms: vec![platform],
    });
}

#[cfg(test)]
mod tests {
    use crate::settings::load::{load, SourceFile};

    /// Two settings on one gsettings key (the second through `also` with a
    /// map), served on GNOME and KDE by their `[setting.linux]` tables.
    const PROFILE: &str = r#"
[[setting]]
id = "a.size"
title = "Size"
description = "A size."
value = { type = "float", min = 1.0, max = 3.0 }
[setting.linux]
backend = "gsettings"
schema = "org.example"
key = "scale"
type = "d"

[[setting]]
id = "a.large"
title = "Large"
description = "Large or not."
value = { type = "bool" }
[setting.linux]
backend = "gsettings"
schema = "org.example"
key = "large"
type = "b"
also = [{ schema = "org.example", key = "scale", type = "d", map = { true = "1.5", false = "1.0" } }]
"#;

    fn preset(values: &str) -> Result<(), String> {
        let text = format!("name = \"p\"\ntitle = \"P\"\ndescription = \"d\"\n[values]\n{values}");
        let files = [
            SourceFile {
                name: "s.toml".into(),
                text: PROFILE.into(),
            },
            SourceFile {
                name: "presets/p.toml".into(),
                text,
            },
        ];
        load(&files, &[]).map(|_| ()).map_err(|e| e.to_string())
    }

    #[test]
    fn different_texts_on_one_key_are_an_error_at_the_later_value() {
        assert_eq!(
            preset("\"a.size\" = 2.0\n\"a.large\" = true\n"),
            Err(
                "presets/p.toml:6:1: 'a.size' and 'a.large' both write gsettings org.example \
                 scale on gnome, kde, with different values ('2.0' and '1.5')"
                    .into()
            )
        );
    }

    #[test]
    fn the_same_text_or_distinct_keys_pass() {
        assert_eq!(preset("\"a.size\" = 1.5\n\"a.large\" = true\n"), Ok(()));
        assert_eq!(preset("\"a.size\" = 1.0\n\"a.large\" = false\n"), Ok(()));
        assert_eq!(preset("\"a.large\" = true\n"), Ok(()));
    }
}
