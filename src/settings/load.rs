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

/// Builds the catalog from the shipped layer and the user layer. Within a
/// layer an id or preset name may be defined once; the user layer replaces
/// the shipped one. Every error of every file is reported.
pub fn load(shipped: &[SourceFile], user: &[SourceFile]) -> Result<Catalog, ProfileErrors> {
    let mut errors = Vec::new();
    let mut settings: BTreeMap<String, Setting> = BTreeMap::new();
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
                        settings.insert(setting.id.clone(), setting);
                    }
                }
            }
        }
    }
    let mut presets: BTreeMap<String, Preset> = BTreeMap::new();
    let mut preset_origin: BTreeMap<(usize, String), Origin> = BTreeMap::new();
    for (layer, file) in preset_files {
        match parse_preset(&file.name, &file.text, |id| settings.get(id)) {
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
