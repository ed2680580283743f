//! Printing: aligned tables for people, one JSON document for programs (`--output json`).
//!
//! Everything the CLI prints goes through [`line`] / [`out!`] (stdout) and [`note!`] (stderr):
//! a reader that goes away early (`fintech completions bash | head`) ends the program quietly
//! instead of a panic on the closed pipe.

use std::io::{IsTerminal, Write};

/// Prints a formatted line on stdout (see [`line`]).
#[macro_export]
macro_rules! out {
    ($($t:tt)*) => {
        $crate::output::line(format_args!($($t)*))
    };
}

/// Prints a formatted line on stderr; a closed stderr is ignored (there is no one to tell).
#[macro_export]
macro_rules! note {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

/// Writes `text` and a newline to stdout. When the reader has closed the pipe, the program
/// exits with success at once: the reader took what it wanted, and nothing more can be said.
pub fn line(text: impl std::fmt::Display) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}").and_then(|()| out.flush()) {
        stdout_failed(e);
    }
}

/// Writes raw bytes to stdout, with the same closed-pipe handling as [`line`].
pub fn bytes(b: &[u8]) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(b).and_then(|()| out.flush()) {
        stdout_failed(e);
    }
}

fn stdout_failed(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    note!("error: writing to stdout: {e}");
    std::process::exit(1);
}

use serde::Serialize;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns (the default on a terminal).
    Table,
    /// One JSON value: an object or an array (the default when piped).
    Json,
}

impl Format {
    /// The explicit choice, or table on a terminal and JSON otherwise.
    pub fn resolve(explicit: Option<Format>) -> Format {
        explicit.unwrap_or_else(|| {
            if std::io::stdout().is_terminal() {
                Format::Table
            } else {
                Format::Json
            }
        })
    }
}

/// The value of a change, noting on stderr when it was replayed (an earlier request with the
/// same idempotency key ran it; nothing ran now).
pub fn value<T>(e: fintech_core::platform::Executed<T>) -> T {
    if e.replayed {
        note!("replayed: an earlier request with this idempotency key ran it");
    }
    e.value
}

/// Prints `value` as JSON, or as a table of `rows` under `headers`.
pub fn show<T: Serialize>(format: Format, value: &T, headers: &[&str], rows: Vec<Vec<String>>) {
    match format {
        Format::Json => line(serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into())),
        Format::Table => print_table(headers, &rows),
    }
}

/// Prints a table with columns padded to their widest cell.
pub fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let row = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(c.chars().count());
            out.push_str(c);
            if i + 1 < cells.len() {
                out.push_str(&" ".repeat(pad + 2));
            }
        }
        line(out.trim_end());
    };
    row(headers.to_vec());
    for r in rows {
        row(r.iter().map(String::as_str).collect());
    }
    if rows.is_empty() {
        line("(none)");
    }
}

/// An optional cell.
pub fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref()
        .map(ToString::to_string)
        .unwrap_or_else(|| "-".into())
}
