//! Loads the catalog: the profiles embedded in the binary, then the user's
//! `<config>/knob/profiles/` files, which add settings or replace shipped
//! ones by id (and presets by name). All files are validated the same way.
use std::collections::BTreeMap;
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::catalog::{Catalog, Preset, Setting};
use super::profile::{
    file_kind, parse_preset, parse_profile, FileKind, ProfileError, ProfileErrors,
};

mod shipped {
    include!(concat!(env!("OUT_DIR"), "/shipped_profiles.rs"));
}

/// One profile or preset file: a display name and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
}

/// The profiles and presets embedded at build time.
pub fn shipped_files() -> Vec<SourceFile> {
    shipped::SHIPPED
        .iter()
        .map(|(name, text)| SourceFile {
            name: name.to_string(),
            text: text.to_string(),
        })
        .collect()
}

/// `dir/*.toml` and `dir/presets/*.toml`, sorted; a missing directory is empty.
pub fn dir_files(dir: &Path) -> Result<Vec<SourceFile>, ProfileErrors> {
    let mut paths = Vec::new();
    for d in [dir.to_path_buf(), dir.join("presets")] {
        let entries = match fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_error(&d, &e)),
        };
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
            .collect();
        found.sort();
        paths.extend(found);
    }
    read_files(&paths)
}

/// Reads the named files.
pub fn read_files(paths: &[PathBuf]) -> Result<Vec<SourceFile>, ProfileErrors> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        match fs::read_to_string(p) {
            Ok(text) => files.push(SourceFile {
                name: p.display().to_string(),
                text,
            }),
            Err(e) => errors.push(io_error(p, &e).0.remove(0)),
        }
    }
    if errors.is_empty() {
        Ok(files)
    } else {
        Err(ProfileErrors(errors))
    }
}

fn io_error(path: &Path, e: &std::io::Error) -> ProfileErrors {
    ProfileErrors(vec![ProfileError {
        file: path.display().to_string(),
        line: 1,
        col: 1,
        message: format!("cannot read: {e}"),
    }])
}

/// The two layers of the catalog.
const SHIPPED: usize = 0;
const USER: usize = 1;

/// Where a definition came from, for duplicate messages.
struct Origin {
    file: String,
    line: usize,
}

/// Line numbers of byte offsets in one file. The line starts are found once,
/// so every setting of a large file gets its line in O(log n) instead of a
/// scan from the start of the file (which made loading quadratic).
struct LineIndex {
    /// Byte offset where each line starts; the first is 0.
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { starts }
    }

    /// The 1-based line of a byte offset.
    fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset)
    }
}

fn origin(file: &SourceFile, lines: &LineIndex, span: &Range<usize>) -> Origin {
    Origin {
        file: file.name.clone(),
        line: lines.line(span.start),
    }
}

/// A shipped setting that a user profile replaced, and where it was replaced.
struct Replaced<'f> {
    shipped: Setting,
    file: &'f SourceFile,
    span: Range<usize>,
}

/// The `name` of a preset file, if it has one (read before its values are
/// checked, to know which shipped presets the user layer replaces).
fn preset_name(text: &str) -> Option<String> {
    let table = text.parse::<toml::Table>().ok()?;
    table.get("name")?.as_str().map(str::to_string)
}

/// Checks a shipped preset's values again against the settings the user
/// layer replaced. The preset was fine for the shipped setting; when the
/// replacement no longer takes its value (another type, a narrower range),
/// the error belongs to the user's profile, which made the change.
fn recheck_replaced(
    preset: &mut Preset,
    replaced: &BTreeMap<String, Replaced>,
    settings: &BTreeMap<String, Setting>,
) -> Vec<ProfileError> {
    let mut errors = Vec::new();
    for (id, value) in &mut preset.values {
        let (Some(r), Some(now)) = (replaced.get(id.as_str()), settings.get(id.as_str())) else {
            continue;
        };
        match now.value.check(value) {
            Ok(v) => *value = v,
            Err(e) => errors.push(ProfileError::at(
                &r.file.name,
                &r.file.text,
                Some(r.span.clone()),
                format!(
                    "'{id}' replaces a shipped setting, but the shipped preset '{}' ({}) sets it to {value}: {e}; a preset named '{}' in your profiles would replace that one",
                    preset.name, preset.source, preset.name
                ),
            )),
        }
    }
    errors
}

/// Builds the catalog from the shipped layer and the user layer. Within a
/// layer an id or preset name may be defined once; the user layer replaces
/// the shipped one. Every error of every file is reported, against the file
/// that caused it.
pub fn load(shipped: &[SourceFile], user: &[SourceFile]) -> Result<Catalog, ProfileErrors> {
    let mut errors = Vec::new();
    let mut settings: BTreeMap<String, Setting> = BTreeMap::new();
    let mut replaced: BTreeMap<String, Replaced> = BTreeMap::new();
    let mut preset_files: Vec<(usize, &SourceFile)> = Vec::new();
    for (layer, files) in [(SHIPPED, shipped), (USER, user)] {
        let mut in_layer: BTreeMap<String, Origin> = BTreeMap::new();
        for file in files {
            if file_kind(&file.text) == FileKind::Preset {
                preset_files.push((layer, file));
                continue;
            }
            match parse_profile(&file.name, &file.text) {
                Err(e) => errors.extend(e),
                Ok(list) => {
                    let lines = LineIndex::new(&file.text);
                    for (setting, span) in list {
                        if let Some(first) = in_layer.get(&setting.id) {
                            errors.push(ProfileError::at(
                                &file.name,
                                &file.text,
                                Some(span),
                                format!(
                                    "duplicate setting id '{}' (first defined at {}:{})",
                                    setting.id, first.file, first.line
                                ),
                            ));
                            continue;
                        }
                        in_layer.insert(setting.id.clone(), origin(file, &lines, &span));
                        if let Some(shipped) = settings.insert(setting.id.clone(), setting) {
                            let id = shipped.id.clone();
                            replaced.insert(
                                id,
                                Replaced {
                                    shipped,
                                    file,
                                    span,
                                },
                            );
                        }
                    }
                }
            }
        }
    }
    let mut presets: BTreeMap<String, Preset> = BTreeMap::new();
    let mut preset_origin: BTreeMap<(usize, String), Origin> = BTreeMap::new();
    let user_presets: Vec<String> = preset_files
        .iter()
        .filter(|(layer, _)| *layer == USER)
        .filter_map(|(_, f)| preset_name(&f.text))
        .collect();
    for (layer, file) in preset_files {
        let parsed = if layer == USER {
            parse_preset(&file.name, &file.text, |id| settings.get(id))
        } else {
            if preset_name(&file.text).is_some_and(|n| user_presets.contains(&n)) {
                continue; // the user's preset of that name replaces it
            }
            // Checked against the settings it was written for, then again
            // against the user's replacements.
            parse_preset(&file.name, &file.text, |id| {
                replaced
                    .get(id)
                    .map(|r| &r.shipped)
                    .or_else(|| settings.get(id))
            })
            .and_then(|(mut preset, span)| {
                let e = recheck_replaced(&mut preset, &replaced, &settings);
                if e.is_empty() {
                    Ok((preset, span))
                } else {
                    Err(e)
                }
            })
        };
        match parsed {
            Err(e) => errors.extend(e),
            Ok((preset, span)) => {
                let key = (layer, preset.name.clone());
                if let Some(first) = preset_origin.get(&key) {
                    errors.push(ProfileError::at(
                        &file.name,
                        &file.text,
                        Some(span),
                        format!(
                            "duplicate preset name '{}' (first defined at {}:{})",
                            preset.name, first.file, first.line
                        ),
                    ));
                    continue;
                }
                preset_origin.insert(key, origin(file, &LineIndex::new(&file.text), &span));
                presets.insert(preset.name.clone(), preset);
            }
        }
    }
    if !errors.is_empty() {
        return Err(ProfileErrors(errors));
    }
    Ok(Catalog::new(
        settings.into_values().collect(),
        presets.into_values().collect(),
    ))
}

/// The shipped catalog extended by the profiles in `user_dir` (usually
/// `<config>/knob/profiles`).
pub fn load_with_user_dir(user_dir: Option<&Path>) -> Result<Catalog, ProfileErrors> {
    let user = match user_dir {
        Some(dir) => dir_files(dir)?,
        None => Vec::new(),
    };
    load(&shipped_files(), &user)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(name: &str, text: &str) -> SourceFile {
        SourceFile {
            name: name.into(),
            text: text.into(),
        }
    }

    const A: &str = r#"
[[setting]]
id = "a.one"
title = "One"
description = "First."
[setting.value]
type = "bool"
[setting.gnome]
backend = "gsettings"
schema = "org.example"
key = "one"
type = "b"
"#;

    #[test]
    fn line_index_agrees_with_line_col() {
        let text = "a = 1\nbé = 2\n\n[x]\ny = 3";
        let lines = LineIndex::new(text);
        // Spans start on character boundaries.
        for offset in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
            assert_eq!(
                lines.line(offset),
                super::super::profile::line_col(text, offset).0,
                "offset {offset}"
            );
        }
    }

    #[test]
    fn user_layer_replaces_shipped_setting() {
        let user = A.replace("title = \"One\"", "title = \"Mine\"");
        let cat = load(&[src("s.toml", A)], &[src("u.toml", &user)]).unwrap();
        assert_eq!(cat.settings().len(), 1);
        assert_eq!(cat.setting("a.one").unwrap().title, "Mine");
        assert_eq!(cat.setting("a.one").unwrap().source, "u.toml");
    }

    #[test]
    fn duplicate_in_one_layer_is_an_error() {
        let err = load(&[src("s.toml", A), src("t.toml", A)], &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.toml:3:6: duplicate setting id 'a.one' (first defined at s.toml:3)"
        );
    }

    const P: &str =
        "name = \"p\"\ntitle = \"P\"\ndescription = \"d\"\n[values]\n\"a.one\" = true\n";

    #[test]
    fn a_user_setting_that_breaks_a_shipped_preset_is_the_users_error() {
        let shipped = [src("s.toml", A), src("presets/p.toml", P)];
        let user = A
            .replace("type = \"bool\"", "type = \"int\"\nmin = 0\nmax = 9")
            .replace("type = \"b\"", "type = \"i\"");
        let err = load(&shipped, &[src("u.toml", &user)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "u.toml:3:6: 'a.one' replaces a shipped setting, but the shipped preset 'p' \
             (presets/p.toml) sets it to true: expected a whole-number value, got the boolean true; \
             a preset named 'p' in your profiles would replace that one"
        );
        // Replacing the preset too makes the catalog whole again.
        let mine = P.replace("= true", "= 7");
        let cat = load(
            &shipped,
            &[src("u.toml", &user), src("presets/mine.toml", &mine)],
        )
        .unwrap();
        assert_eq!(cat.preset("p").unwrap().source, "presets/mine.toml");
        assert_eq!(
            cat.preset("p").unwrap().values,
            vec![("a.one".to_string(), super::super::value::Value::Int(7))]
        );
    }

    #[test]
    fn a_compatible_replacement_keeps_the_shipped_preset() {
        let shipped = [src("s.toml", A), src("presets/p.toml", P)];
        let user = A.replace("title = \"One\"", "title = \"Mine\"");
        let cat = load(&shipped, &[src("u.toml", &user)]).unwrap();
        assert_eq!(cat.setting("a.one").unwrap().source, "u.toml");
        assert_eq!(cat.preset("p").unwrap().source, "presets/p.toml");
    }

    #[test]
    fn presets_are_checked_against_settings() {
        let preset = "name = \"p\"\ntitle = \"P\"\ndescription = \"d\"\n[values]\n\"a.one\" = 3\n";
        let err = load(&[src("s.toml", A), src("presets/p.toml", preset)], &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "presets/p.toml:5:11: 'a.one': expected an on/off value, got the number 3"
        );
        let ok = preset.replace("= 3", "= true");
        let cat = load(&[src("s.toml", A), src("presets/p.toml", &ok)], &[]).unwrap();
        assert_eq!(
            cat.preset("p").unwrap().values,
            vec![("a.one".to_string(), super::super::value::Value::Bool(true))]
        );
    }
}
