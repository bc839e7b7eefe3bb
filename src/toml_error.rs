//! Turning a TOML parse error into `file:line:col: message`.
use std::path::Path;

/// 1-based line and column (in characters) of a byte offset in `source`.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    // Step back to a char boundary so slicing never panics.
    let offset = (0..=offset)
        .rev()
        .find(|&i| source.is_char_boundary(i))
        .unwrap_or(0);
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = source[line_start..offset].chars().count() + 1;
    (line, col)
}

/// `path:line:col: message` for a toml error (line 1, col 1 when it has no span).
pub fn describe(path: &Path, source: &str, err: &toml::de::Error) -> String {
    let (line, col) = err
        .span()
        .map_or((1, 1), |span| line_col(source, span.start));
    format!(
        "{}:{line}:{col}: {}",
        path.display(),
        err.message().trim_end()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let src = "a = 1\nb = \"é\"x\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 6), (2, 1));
        let x = src.find('x').unwrap();
        assert_eq!(line_col(src, x), (2, 8));
        assert_eq!(line_col(src, 10_000), (3, 1));
    }
}
