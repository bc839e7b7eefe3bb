//! Cleaning a request before the model sees it: limits, control characters
//! and whitespace. Everything that can go wrong here is a clear error.

/// Longest request accepted, in bytes (also the batch line limit).
pub const MAX_REQUEST_BYTES: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("the request is empty")]
    Empty,
    #[error("the request is {len} bytes long; the limit is {MAX_REQUEST_BYTES} bytes")]
    TooLong { len: usize },
}

/// A request ready for the model, and what was done to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanRequest {
    pub text: String,
    /// Control characters were replaced by spaces.
    pub had_control_chars: bool,
}

/// Replaces control characters with spaces, collapses runs of whitespace and
/// trims. Case is kept: the tokenizer's normalizer owns casing.
pub fn clean(raw: &str) -> Result<CleanRequest, RequestError> {
    if raw.len() > MAX_REQUEST_BYTES {
        return Err(RequestError::TooLong { len: raw.len() });
    }
    let mut had_control_chars = false;
    let mut text = String::with_capacity(raw.len());
    let mut pending_space = false;
    for c in raw.chars() {
        let c = if c.is_control() && !c.is_whitespace() {
            had_control_chars = true;
            ' '
        } else {
            c
        };
        if c.is_whitespace() {
            pending_space = !text.is_empty();
            continue;
        }
        if pending_space {
            text.push(' ');
            pending_space = false;
        }
        text.push(c);
    }
    if text.is_empty() {
        return Err(RequestError::Empty);
    }
    Ok(CleanRequest {
        text,
        had_control_chars,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_is_collapsed_and_case_kept() {
        let r = clean("  Turn   on\tDark\nmode  ").unwrap();
        assert_eq!(r.text, "Turn on Dark mode");
        assert!(!r.had_control_chars);
    }

    #[test]
    fn control_characters_become_spaces() {
        let r = clean("dark\u{1b}[31m mode\u{0}").unwrap();
        assert_eq!(r.text, "dark [31m mode");
        assert!(r.had_control_chars);
    }

    #[test]
    fn empty_and_blank_requests_are_errors() {
        assert_eq!(clean(""), Err(RequestError::Empty));
        assert_eq!(clean(" \t\n "), Err(RequestError::Empty));
        assert_eq!(clean("\u{7}\u{0}"), Err(RequestError::Empty));
    }

    #[test]
    fn a_huge_request_is_refused_with_its_size() {
        let huge = "a".repeat(1 << 20);
        let err = clean(&huge).unwrap_err();
        assert_eq!(err, RequestError::TooLong { len: 1 << 20 });
        assert_eq!(
            err.to_string(),
            "the request is 1048576 bytes long; the limit is 4096 bytes"
        );
        assert!(clean(&"a".repeat(MAX_REQUEST_BYTES)).is_ok());
    }

    #[test]
    fn multibyte_text_is_kept_whole() {
        assert_eq!(clean("暗い モード 🌙").unwrap().text, "暗い モード 🌙");
    }
}
