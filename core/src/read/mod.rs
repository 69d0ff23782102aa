//! Stage 1 readers: JSON Lines (plain or gzip, detected by content) in the reference
//! pipeline's record format or the minimal `{"question": …, "sql": …}` form.
//!
//! Every line is accounted for: a line is either a record or an error naming the file,
//! line and column. With `skip_invalid`, bad lines are counted and listed in a
//! [`ReadReport`] instead of stopping the read. Blank lines are ignored (and counted).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Longest accepted line, in bytes.
pub const MAX_LINE_BYTES: usize = 4 << 20;

/// Why a Stage 1 line (or file) could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The line is not valid UTF-8.
    #[error("{path}:{line}:{column}: not valid UTF-8")]
    Utf8 {
        /// File.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based byte column of the first invalid byte.
        column: usize,
    },
    /// The line is not a JSON object.
    #[error("{path}:{line}:{column}: invalid JSON: {message}")]
    Json {
        /// File.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// serde_json's message.
        message: String,
    },
    /// The record has no SQL in the expected field.
    #[error("{path}:{line}: record has no SQL string in field {field:?}{}", if *.fallback { " (nor \"sql_postgis\" / \"sql\")" } else { "" })]
    MissingSql {
        /// File.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The field looked for.
        field: String,
        /// Whether the default fields were tried too.
        fallback: bool,
    },
    /// The line is longer than the limit.
    #[error("{path}:{line}: line longer than {limit} bytes")]
    TooLong {
        /// File.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The limit.
        limit: usize,
    },
}

impl ReadError {
    /// The line the error is on, if it is about one line.
    pub fn line(&self) -> Option<usize> {
        match self {
            ReadError::Io { .. } => None,
            ReadError::Utf8 { line, .. }
            | ReadError::Json { line, .. }
            | ReadError::MissingSql { line, .. }
            | ReadError::TooLong { line, .. } => Some(*line),
        }
    }
}

/// One Stage 1 record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stage1Record {
    /// 1-based line in its file.
    pub line: usize,
    /// The record's id, if it has one.
    pub id: Option<String>,
    /// The question.
    pub question: Option<String>,
    /// The SQL (from the chosen field).
    pub sql: String,
    /// The record's question tone label.
    pub question_tone: Option<String>,
    /// The record's usage frequency label (`usage_frequency`, else `sql_frequency`).
    pub usage_frequency: Option<String>,
    /// The record's own sql_type label (kept for reference; features re-derive it).
    pub sql_type: Option<String>,
    /// The whole JSON object.
    pub raw: serde_json::Map<String, serde_json::Value>,
}

impl Stage1Record {
    /// The labels SQL cannot reveal, as the feature extractor takes them.
    pub fn labels(&self) -> crate::features::RecordLabels<'_> {
        crate::features::RecordLabels {
            question: self.question.as_deref(),
            question_tone: self.question_tone.as_deref(),
            usage_frequency: self.usage_frequency.as_deref(),
        }
    }
}

/// A line that was skipped, and why.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedLine {
    /// 1-based line.
    pub line: usize,
    /// The error message.
    pub reason: String,
}

/// Accounting of one read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReadReport {
    /// Lines read (blank lines included).
    pub lines: usize,
    /// Records produced.
    pub records: usize,
    /// Blank lines ignored.
    pub blank: usize,
    /// Invalid lines skipped (only with `skip_invalid`).
    pub skipped: Vec<SkippedLine>,
}

/// Reader options.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Skip invalid lines (counted in the report) instead of stopping at the first.
    pub skip_invalid: bool,
    /// Field holding the SQL. `None`: `sql_postgis`, else `sql`.
    pub sql_field: Option<String>,
    /// Longest accepted line.
    pub max_line_bytes: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            skip_invalid: false,
            sql_field: None,
            max_line_bytes: MAX_LINE_BYTES,
        }
    }
}

/// Streams Stage 1 records from a JSON Lines file (gzip detected by its magic bytes).
pub struct Stage1Reader {
    path: PathBuf,
    input: Box<dyn BufRead + Send>,
    options: ReadOptions,
    report: ReadReport,
    buf: Vec<u8>,
    failed: bool,
}

impl std::fmt::Debug for Stage1Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stage1Reader")
            .field("path", &self.path)
            .field("report", &self.report)
            .finish()
    }
}

impl Stage1Reader {
    /// Open a file.
    pub fn open(path: &Path, options: ReadOptions) -> Result<Stage1Reader, ReadError> {
        let io = |source| ReadError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = BufReader::new(File::open(path).map_err(io)?);
        let gz = file.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b]);
        let input: Box<dyn BufRead + Send> = if gz {
            Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(file)))
        } else {
            Box::new(file)
        };
        Ok(Stage1Reader::from_reader(path, input, options))
    }

    /// Read from any buffered reader; `name` is used in errors.
    pub fn from_reader(
        name: &Path,
        input: Box<dyn BufRead + Send>,
        options: ReadOptions,
    ) -> Stage1Reader {
        Stage1Reader {
            path: name.to_path_buf(),
            input,
            options,
            report: ReadReport::default(),
            buf: Vec::new(),
            failed: false,
        }
    }

    /// Accounting so far (complete once the iterator is exhausted).
    pub fn report(&self) -> &ReadReport {
        &self.report
    }

    /// Read everything: the records and the report, or the first error.
    pub fn read_all(mut self) -> Result<(Vec<Stage1Record>, ReadReport), ReadError> {
        let mut records = Vec::new();
        for r in self.by_ref() {
            records.push(r?);
        }
        Ok((records, self.report))
    }

    /// Read one raw line into `buf`, bounded by the size limit. Returns false at EOF.
    fn next_line(&mut self) -> Result<Option<bool>, std::io::Error> {
        self.buf.clear();
        let limit = self.options.max_line_bytes as u64 + 1;
        let n = (&mut self.input)
            .take(limit)
            .read_until(b'\n', &mut self.buf)?;
        if n == 0 {
            return Ok(None);
        }
        if self.buf.len() as u64 >= limit && !self.buf.ends_with(b"\n") {
            // Too long: discard the rest of the line in bounded chunks.
            loop {
                let (done, used) = {
                    let available = self.input.fill_buf()?;
                    if available.is_empty() {
                        (true, 0)
                    } else {
                        match available.iter().position(|&b| b == b'\n') {
                            Some(i) => (true, i + 1),
                            None => (false, available.len()),
                        }
                    }
                };
                self.input.consume(used);
                if done {
                    break;
                }
            }
            return Ok(Some(false));
        }
        Ok(Some(true))
    }

    fn parse_line(&self, line: usize) -> Result<Option<Stage1Record>, ReadError> {
        let bytes = self.buf.strip_suffix(b"\n").unwrap_or(&self.buf);
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        let text = std::str::from_utf8(bytes).map_err(|e| ReadError::Utf8 {
            path: self.path.clone(),
            line,
            column: e.valid_up_to() + 1,
        })?;
        if text.trim().is_empty() {
            return Ok(None);
        }
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            let message = e.to_string();
            // The position is already in the error's place; drop serde's own suffix.
            let message = match message.rfind(" at line ") {
                Some(i) => message[..i].to_string(),
                None => message,
            };
            ReadError::Json {
                path: self.path.clone(),
                line,
                column: e.column(),
                message,
            }
        })?;
        let serde_json::Value::Object(raw) = value else {
            return Err(ReadError::Json {
                path: self.path.clone(),
                line,
                column: 1,
                message: "expected a JSON object".into(),
            });
        };
        let get = |k: &str| raw.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let sql = match &self.options.sql_field {
            Some(f) => get(f),
            None => get("sql_postgis").or_else(|| get("sql")),
        };
        let Some(sql) = sql.filter(|s| !s.trim().is_empty()) else {
            return Err(ReadError::MissingSql {
                path: self.path.clone(),
                line,
                field: self
                    .options
                    .sql_field
                    .clone()
                    .unwrap_or_else(|| "sql_postgis".into()),
                fallback: self.options.sql_field.is_none(),
            });
        };
        Ok(Some(Stage1Record {
            line,
            id: get("id").or_else(|| {
                raw.get("id")
                    .filter(|v| v.is_number())
                    .map(|v| v.to_string())
            }),
            question: get("question"),
            sql,
            question_tone: get("question_tone"),
            usage_frequency: get("usage_frequency").or_else(|| get("sql_frequency")),
            sql_type: get("sql_type"),
            raw,
        }))
    }
}

impl Iterator for Stage1Reader {
    type Item = Result<Stage1Record, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            let line_no = self.report.lines + 1;
            let outcome = match self.next_line() {
                Err(source) => {
                    self.failed = true;
                    return Some(Err(ReadError::Io {
                        path: self.path.clone(),
                        source,
                    }));
                }
                Ok(None) => return None,
                Ok(Some(false)) => Err(ReadError::TooLong {
                    path: self.path.clone(),
                    line: line_no,
                    limit: self.options.max_line_bytes,
                }),
                Ok(Some(true)) => self.parse_line(line_no),
            };
            self.report.lines = line_no;
            match outcome {
                Ok(Some(r)) => {
                    self.report.records += 1;
                    return Some(Ok(r));
                }
                Ok(None) => self.report.blank += 1,
                Err(e) if self.options.skip_invalid => self.report.skipped.push(SkippedLine {
                    line: line_no,
                    reason: e.to_string(),
                }),
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8], options: ReadOptions) -> (Vec<Result<Stage1Record, String>>, ReadReport) {
        let mut r = Stage1Reader::from_reader(
            Path::new("in.jsonl"),
            Box::new(std::io::Cursor::new(bytes.to_vec())),
            options,
        );
        let items: Vec<_> = r.by_ref().map(|x| x.map_err(|e| e.to_string())).collect();
        (items, r.report().clone())
    }

    #[test]
    fn both_record_forms_are_read() {
        let input = b"{\"id\":\"a\",\"question\":\"q1\",\"sql_postgis\":\"SELECT 1\",\"question_tone\":\"DIRECT\"}\n\n{\"question\":\"q2\",\"sql\":\"SELECT 2\"}\n";
        let (items, report) = read(input, ReadOptions::default());
        assert_eq!(items.len(), 2);
        let second = items[1].as_ref().unwrap();
        assert_eq!(second.sql, "SELECT 2");
        assert_eq!(second.line, 3);
        assert_eq!(report.blank, 1);
    }

    #[test]
    fn bad_lines_name_their_place_or_are_skipped_and_counted() {
        let input = b"{\"sql\":\"SELECT 1\"}\n{\"sql\": oops}\n\xff\xfe\n{\"question\":\"no sql\"}\n{\"sql\":\"SELECT 2\"}\n";
        let (items, _) = read(input, ReadOptions::default());
        assert_eq!(items.len(), 2, "stops at the first error");
        let err = items[1].as_ref().unwrap_err();
        assert!(err.starts_with("in.jsonl:2:"), "{err}");

        let (items, report) = read(
            input,
            ReadOptions {
                skip_invalid: true,
                ..ReadOptions::default()
            },
        );
        assert_eq!(items.iter().filter(|i| i.is_ok()).count(), 2);
        let lines: Vec<usize> = report.skipped.iter().map(|s| s.line).collect();
        assert_eq!(lines, vec![2, 3, 4]);
        assert!(report.skipped[1].reason.contains("UTF-8"));
        assert!(report.skipped[2].reason.contains("no SQL"));
        assert_eq!(report.lines, 5);
    }

    #[test]
    fn overlong_lines_are_bounded() {
        let mut input = b"{\"sql\":\"SELECT 1\"}\n{\"sql\":\"".to_vec();
        input.extend(std::iter::repeat_n(b'x', 5000));
        input.extend(b"\"}\n{\"sql\":\"SELECT 3\"}\n");
        let options = ReadOptions {
            skip_invalid: true,
            max_line_bytes: 1000,
            ..ReadOptions::default()
        };
        let (items, report) = read(&input, options);
        assert_eq!(items.len(), 2);
        assert_eq!(report.skipped[0].line, 2);
        assert!(report.skipped[0].reason.contains("longer than 1000"));
    }
}
