//! Positions and messages: [`Span`] (line and column of a token), [`Diagnostic`] (one error
//! or warning, printed `file:line:column: path: message`) and [`ConfigErrors`] (every error
//! of one parse). The collector [`Diagnostics`] keeps both lists sorted by position.

use std::fmt;

/// A position in the text: 1-based line and 1-based column, counted in characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Span {
    pub(crate) line: u32,
    pub(crate) column: u32,
}

impl Span {
    /// The first character of the file, for rules that have no better place to point at.
    pub(crate) const START: Self = Self { line: 1, column: 1 };
}

/// One error or warning about the configuration text.
///
/// `Display` gives `corosync.conf:14:9: totem.token: expected milliseconds, found "fast"`;
/// the `path: ` part is left out when `path` is empty (a syntax error outside any section).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file name handed to [`crate::parse`].
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters (a tab counts as one).
    pub column: u32,
    /// Dotted path of the section or key, as cmap names it: `totem.token`,
    /// `nodelist.node.ring0_addr`.
    pub path: String,
    /// What is wrong, and what was expected.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Every error found in one configuration text, in file order. `Display` prints one per
/// line. The warnings found on the way are kept too, for a caller that logs them.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", lines(.errors))]
pub struct ConfigErrors {
    /// At least one error.
    pub errors: Vec<Diagnostic>,
    /// Warnings (ignored keys, insecure settings) found before the parse failed.
    pub warnings: Vec<Diagnostic>,
}

fn lines(diagnostics: &[Diagnostic]) -> String {
    let text: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
    text.join("\n")
}

/// Collects errors and warnings during one parse.
pub(crate) struct Diagnostics<'f> {
    file: &'f str,
    pub(crate) errors: Vec<Diagnostic>,
    pub(crate) warnings: Vec<Diagnostic>,
}

impl<'f> Diagnostics<'f> {
    pub(crate) fn new(file: &'f str) -> Self {
        Self {
            file,
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    pub(crate) fn error(&mut self, at: Span, path: &str, message: impl Into<String>) {
        let diagnostic = self.diagnostic(at, path, message.into());
        self.errors.push(diagnostic);
    }

    pub(crate) fn warning(&mut self, at: Span, path: &str, message: impl Into<String>) {
        let diagnostic = self.diagnostic(at, path, message.into());
        self.warnings.push(diagnostic);
    }

    pub(crate) fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Both lists in file order; rules run in passes, so discovery order is not file order.
    pub(crate) fn into_sorted(mut self) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
        let position = |d: &Diagnostic| (d.line, d.column);
        self.errors.sort_by_key(position);
        self.warnings.sort_by_key(position);
        (self.errors, self.warnings)
    }

    fn diagnostic(&self, at: Span, path: &str, message: String) -> Diagnostic {
        Diagnostic {
            file: self.file.to_owned(),
            line: at.line,
            column: at.column,
            path: path.to_owned(),
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_reads_file_line_column_path_message() {
        let mut d = Diagnostics::new("corosync.conf");
        d.error(
            Span {
                line: 14,
                column: 9,
            },
            "totem.token",
            "expected milliseconds",
        );
        d.error(Span { line: 2, column: 1 }, "", "unexpected \"}\"");
        let (errors, _) = d.into_sorted();
        let all = ConfigErrors {
            errors,
            warnings: Vec::new(),
        };
        assert_eq!(
            all.to_string(),
            "corosync.conf:2:1: unexpected \"}\"\n\
             corosync.conf:14:9: totem.token: expected milliseconds"
        );
    }
}
