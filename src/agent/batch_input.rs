//! Reading `knob batch` input: one request per line, plain text or a JSON
//! object {"id": ..., "query": ...}. Memory stays bounded whatever the input:
//! an over-long line is skipped to its end, never held whole.
use std::io::{self, BufRead};

use serde_json::Value;

use super::request::MAX_REQUEST_BYTES;

/// One input line, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchItem {
    /// 1-based line number.
    pub line: u64,
    /// The caller's id, echoed in the output (JSON lines only).
    pub id: Option<Value>,
    pub query: String,
}

/// Why one line could not be used; the batch goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("line is longer than {MAX_REQUEST_BYTES} bytes")]
    TooLong,
    #[error("line is not valid UTF-8")]
    InvalidUtf8,
    #[error("bad JSON: {0}")]
    BadJson(String),
    #[error("JSON line needs a string field \"query\"")]
    MissingQuery,
}

/// A line that failed, with what is known of it.
#[derive(Debug, Clone, PartialEq)]
pub struct BadLine {
    pub line: u64,
    pub id: Option<Value>,
    pub error: LineError,
}

/// Iterates over the lines of a reader. Blank lines are skipped.
pub struct BatchReader<R> {
    reader: R,
    line: u64,
    buf: Vec<u8>,
}

impl<R: BufRead> BatchReader<R> {
    pub fn new(reader: R) -> Self {
        BatchReader {
            reader,
            line: 0,
            buf: Vec::with_capacity(MAX_REQUEST_BYTES + 1),
        }
    }

    /// Reads up to the next newline, keeping at most MAX_REQUEST_BYTES + 1
    /// bytes. Returns Ok(None) at end of input, Ok(Some(too_long)) otherwise.
    fn read_capped_line(&mut self) -> io::Result<Option<bool>> {
        self.buf.clear();
        let mut too_long = false;
        let mut saw_any = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                return Ok(saw_any.then_some(too_long));
            }
            saw_any = true;
            let (chunk, found_newline) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (&available[..i], Some(i + 1)),
                None => (available, None),
            };
            let room = (MAX_REQUEST_BYTES + 1).saturating_sub(self.buf.len());
            if chunk.len() > room {
                too_long = true;
            }
            self.buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
            let consumed = found_newline.unwrap_or(available.len());
            self.reader.consume(consumed);
            if found_newline.is_some() {
                return Ok(Some(too_long));
            }
        }
    }
}

impl<R: BufRead> Iterator for BatchReader<R> {
    type Item = io::Result<Result<BatchItem, BadLine>>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let too_long = match self.read_capped_line() {
                Ok(None) => return None,
                Ok(Some(t)) => t,
                Err(e) => return Some(Err(e)),
            };
            self.line += 1;
            let line = self.line;
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
            if too_long || self.buf.len() > MAX_REQUEST_BYTES {
                return Some(Ok(Err(BadLine {
                    line,
                    id: None,
                    error: LineError::TooLong,
                })));
            }
            let Ok(text) = std::str::from_utf8(&self.buf) else {
                return Some(Ok(Err(BadLine {
                    line,
                    id: None,
                    error: LineError::InvalidUtf8,
                })));
            };
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            return Some(Ok(parse_line(line, text)));
        }
    }
}

fn parse_line(line: u64, text: &str) -> Result<BatchItem, BadLine> {
    if !text.starts_with('{') {
        return Ok(BatchItem {
            line,
            id: None,
            query: text.to_string(),
        });
    }
    let value: Value = serde_json::from_str(text).map_err(|e| BadLine {
        line,
        id: None,
        error: LineError::BadJson(e.to_string()),
    })?;
    let id = value.get("id").cloned();
    match value.get("query").and_then(Value::as_str) {
        Some(query) => Ok(BatchItem {
            line,
            id,
            query: query.to_string(),
        }),
        None => Err(BadLine {
            line,
            id,
            error: LineError::MissingQuery,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read_all(input: &[u8]) -> Vec<Result<BatchItem, BadLine>> {
        BatchReader::new(input)
            .map(|r| r.expect("in-memory reads do not fail"))
            .collect()
    }

    #[test]
    fn plain_and_json_lines_mix_and_blank_lines_are_skipped() {
        let items = read_all(b"dark mode\n\n{\"id\": 7, \"query\": \"louder\"}\r\nbrighter");
        assert_eq!(items.len(), 3);
        assert_eq!(
            items[0],
            Ok(BatchItem {
                line: 1,
                id: None,
                query: "dark mode".into()
            })
        );
        assert_eq!(
            items[1],
            Ok(BatchItem {
                line: 3,
                id: Some(json!(7)),
                query: "louder".into()
            })
        );
        assert_eq!(
            items[2],
            Ok(BatchItem {
                line: 4,
                id: None,
                query: "brighter".into()
            })
        );
    }

    #[test]
    fn bad_lines_are_reported_and_reading_goes_on() {
        let mut input = Vec::new();
        input.extend_from_slice(b"{\"query\": \n");
        input.extend_from_slice(b"\xff\xfe bad utf8\n");
        input.extend_from_slice(&vec![b'x'; 100_000]);
        input.extend_from_slice(b"\n{\"id\": \"a\"}\nfine\n");
        let items = read_all(&input);
        let errors: Vec<_> = items
            .iter()
            .map(|r| r.as_ref().err().map(|b| b.error.clone()))
            .collect();
        assert!(matches!(errors[0], Some(LineError::BadJson(_))));
        assert_eq!(errors[1], Some(LineError::InvalidUtf8));
        assert_eq!(errors[2], Some(LineError::TooLong));
        assert_eq!(
            items[3],
            Err(BadLine {
                line: 4,
                id: Some(json!("a")),
                error: LineError::MissingQuery
            })
        );
        assert_eq!(
            items[4],
            Ok(BatchItem {
                line: 5,
                id: None,
                query: "fine".into()
            })
        );
    }

    #[test]
    fn a_line_exactly_at_the_limit_is_accepted() {
        let mut input = vec![b'y'; MAX_REQUEST_BYTES];
        input.push(b'\n');
        input.extend(vec![b'z'; MAX_REQUEST_BYTES + 1]);
        let items = read_all(&input);
        assert!(items[0].is_ok());
        assert_eq!(items[1].as_ref().unwrap_err().error, LineError::TooLong);
    }
}
