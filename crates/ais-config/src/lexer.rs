//! The lexer: corosync.conf text into one [`Token`] per meaningful line, each with the line
//! and column where it starts.
//!
//! The rules are those of corosync's `exec/coroparse.c`, in its order: a line whose first
//! non-blank character is `#` is a comment; a line holding `{` opens a section named by the
//! text before it (a trailing `:` is allowed, `totem: {`); otherwise a line holding `:` is
//! `key: value`, the value running to the end of the line; otherwise the line must be `}`.
//! Blanks are space, tab and no-break space (U+00A0), as in corosync. We add one thing: a
//! value wrapped in double quotes loses them, so `cluster_name: " x "` keeps its spaces.
//! Because `{` is looked for first, a value can never contain `{`.
//!
//! A malformed line becomes [`Token::Bad`] and lexing goes on, so that every error in the
//! file is reported at once.

use crate::diagnostic::Span;

/// One meaningful line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Token<'a> {
    /// `name {`: `at` is where the name starts.
    Open { name: &'a str, at: Span },
    /// `}`.
    Close { at: Span },
    /// `key: value`, with quotes already stripped from the value.
    Item {
        key: &'a str,
        key_at: Span,
        value: &'a str,
        value_at: Span,
    },
    /// A line that is none of the above; `message` says why.
    Bad { at: Span, message: String },
}

/// Every token of `text`, in order.
pub(crate) fn lex(text: &str) -> Vec<Token<'_>> {
    text.split('\n')
        .enumerate()
        .filter_map(|(index, line)| {
            let line_no = u32::try_from(index + 1).unwrap_or(u32::MAX);
            lex_line(line.strip_suffix('\r').unwrap_or(line), line_no)
        })
        .collect()
}

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{a0}')
}

fn lex_line(line: &str, line_no: u32) -> Option<Token<'_>> {
    let at = |byte: usize| Span {
        line: line_no,
        column: column_of(line, byte),
    };
    let content = line.trim_matches(is_blank);
    if content.is_empty() || content.starts_with('#') {
        return None;
    }
    let start = line.len() - line.trim_start_matches(is_blank).len();
    if let Some(brace) = line.find('{') {
        // coroparse strips trailing blanks, colons and braces from the section name.
        let name = line[..brace].trim_matches(|c| is_blank(c) || c == ':');
        let after = line[brace + 1..].trim_matches(is_blank);
        return Some(if name.is_empty() {
            Token::Bad {
                at: at(brace),
                message: "missing section name before \"{\"".into(),
            }
        } else if !after.is_empty() {
            let offset = line.len() - line[brace + 1..].trim_start_matches(is_blank).len();
            Token::Bad {
                at: at(offset),
                message: format!("unexpected text after \"{{\": {after:?}"),
            }
        } else {
            Token::Open {
                name,
                at: at(start),
            }
        });
    }
    if let Some(colon) = line.find(':') {
        let key = line[..colon].trim_matches(is_blank);
        if key.is_empty() {
            return Some(Token::Bad {
                at: at(colon),
                message: "missing key before \":\"".into(),
            });
        }
        let raw = line[colon + 1..].trim_start_matches(is_blank);
        let value_start = line.len() - raw.len();
        let raw = raw.trim_end_matches(is_blank);
        let value = raw
            .strip_prefix('"')
            .and_then(|inner| inner.strip_suffix('"'))
            .unwrap_or(raw);
        return Some(Token::Item {
            key,
            key_at: at(start),
            value,
            value_at: at(value_start),
        });
    }
    Some(if content == "}" {
        Token::Close { at: at(start) }
    } else if content.contains('}') {
        Token::Bad {
            at: at(start),
            message: format!("unexpected text around \"}}\": {content:?}"),
        }
    } else {
        Token::Bad {
            at: at(start),
            message: format!("expected \"key: value\", \"name {{\" or \"}}\", found {content:?}"),
        }
    })
}

/// 1-based column of byte offset `byte`, counted in characters.
fn column_of(line: &str, byte: usize) -> u32 {
    let chars = line.get(..byte).map_or(0, |before| before.chars().count());
    u32::try_from(chars + 1).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(line: u32, column: u32) -> Span {
        Span { line, column }
    }

    #[test]
    fn sections_items_comments_and_blanks() {
        let text = "# comment\n\ntotem {\n\ttoken: 3000 \r\n  # indented comment\n}\n";
        assert_eq!(
            lex(text),
            [
                Token::Open {
                    name: "totem",
                    at: span(3, 1)
                },
                Token::Item {
                    key: "token",
                    key_at: span(4, 2),
                    value: "3000",
                    value_at: span(4, 9)
                },
                Token::Close { at: span(6, 1) },
            ]
        );
    }

    #[test]
    fn quotes_are_stripped_and_values_run_to_the_end_of_line() {
        let tokens = lex("cluster_name: \" a # b \"\nlogfile: /var/log/x y");
        let values: Vec<&str> = tokens
            .iter()
            .filter_map(|t| match t {
                Token::Item { value, .. } => Some(*value),
                _ => None,
            })
            .collect();
        assert_eq!(values, [" a # b ", "/var/log/x y"]);
    }

    #[test]
    fn a_colon_before_the_brace_is_allowed_as_in_corosync() {
        assert_eq!(
            lex("totem: {"),
            [Token::Open {
                name: "totem",
                at: span(1, 1)
            }]
        );
        assert_eq!(
            lex("totem{"),
            [Token::Open {
                name: "totem",
                at: span(1, 1)
            }]
        );
    }

    #[test]
    fn malformed_lines_say_why() {
        let messages: Vec<(Span, String)> = lex("{\ntotem { x\nkey\n: v\n} }")
            .into_iter()
            .filter_map(|t| match t {
                Token::Bad { at, message } => Some((at, message)),
                _ => None,
            })
            .collect();
        assert_eq!(
            messages,
            [
                (span(1, 1), "missing section name before \"{\"".to_owned()),
                (span(2, 9), "unexpected text after \"{\": \"x\"".to_owned()),
                (
                    span(3, 1),
                    "expected \"key: value\", \"name {\" or \"}\", found \"key\"".into()
                ),
                (span(4, 1), "missing key before \":\"".to_owned()),
                (
                    span(5, 1),
                    "unexpected text around \"}\": \"} }\"".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        assert_eq!(
            lex("\u{a0}é: x"),
            [Token::Item {
                key: "é",
                key_at: span(1, 2),
                value: "x",
                value_at: span(1, 5)
            }]
        );
    }
}
