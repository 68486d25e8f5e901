//! The syntax tree: tokens nested into sections, keeping file order and every position.
//!
//! It knows nothing of key names; it only balances braces. An unexpected `}` is reported and
//! skipped; a section still open at the end of the file is reported at its opening line and
//! closed there, so the rest of the file is still checked.

use crate::diagnostic::{Diagnostics, Span};
use crate::lexer::{Token, lex};

/// A section, or the file itself (the root has an empty name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Section<'a> {
    pub(crate) name: &'a str,
    /// Where the name starts; the file's first character for the root.
    pub(crate) at: Span,
    pub(crate) entries: Vec<Entry<'a>>,
}

/// One line inside a section: a `key: value` item or a nested section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Entry<'a> {
    Item(Item<'a>),
    Section(Section<'a>),
}

/// `key: value`, with the position of each half.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Item<'a> {
    pub(crate) key: &'a str,
    pub(crate) key_at: Span,
    pub(crate) value: &'a str,
    pub(crate) value_at: Span,
}

/// Parses `text` into the root section; syntax errors go to `diagnostics`.
pub(crate) fn build<'a>(text: &'a str, diagnostics: &mut Diagnostics<'_>) -> Section<'a> {
    // The stack of open sections; the root is always at the bottom.
    let mut stack = vec![Section {
        name: "",
        at: Span::START,
        entries: Vec::new(),
    }];
    for token in lex(text) {
        match token {
            Token::Open { name, at } => stack.push(Section {
                name,
                at,
                entries: Vec::new(),
            }),
            Token::Close { at } => {
                if stack.len() == 1 {
                    diagnostics.error(at, "", "unexpected \"}\": no section is open");
                } else {
                    close_innermost(&mut stack);
                }
            }
            Token::Item {
                key,
                key_at,
                value,
                value_at,
            } => {
                let item = Item {
                    key,
                    key_at,
                    value,
                    value_at,
                };
                innermost(&mut stack).entries.push(Entry::Item(item));
            }
            Token::Bad { at, message } => diagnostics.error(at, &path_of(&stack), message),
        }
    }
    while stack.len() > 1 {
        let open = innermost(&mut stack);
        let (at, message) = (
            open.at,
            format!("section \"{}\" is never closed", open.name),
        );
        // Reported in its parent, like any other entry of the parent.
        diagnostics.error(at, &path_of(&stack[..stack.len() - 1]), message);
        close_innermost(&mut stack);
    }
    stack.pop().unwrap_or(Section {
        name: "",
        at: Span::START,
        entries: Vec::new(),
    })
}

fn innermost<'s, 'a>(stack: &'s mut [Section<'a>]) -> &'s mut Section<'a> {
    let last = stack.len() - 1;
    &mut stack[last]
}

/// Pops the innermost section into its parent. The root is never popped here.
fn close_innermost(stack: &mut Vec<Section<'_>>) {
    assert!(stack.len() > 1, "closing the root section");
    if let Some(done) = stack.pop() {
        innermost(stack).entries.push(Entry::Section(done));
    }
}

/// Dotted path of the open sections, without the root: `totem.interface`.
fn path_of(stack: &[Section<'_>]) -> String {
    let names: Vec<&str> = stack.iter().skip(1).map(|s| s.name).collect();
    names.join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<String> {
        let mut d = Diagnostics::new("c.conf");
        build(text, &mut d);
        d.into_sorted().0.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn nests_sections_in_file_order() {
        let mut d = Diagnostics::new("c.conf");
        let root = build(
            "totem {\n interface {\n  linknumber: 0\n }\n token: 1\n}\n",
            &mut d,
        );
        assert!(!d.has_errors());
        let [Entry::Section(totem)] = root.entries.as_slice() else {
            panic!("{root:?}")
        };
        assert_eq!(
            (totem.name, totem.at),
            ("totem", Span { line: 1, column: 1 })
        );
        let [Entry::Section(interface), Entry::Item(token)] = totem.entries.as_slice() else {
            panic!("{totem:?}")
        };
        assert_eq!((interface.name, interface.entries.len()), ("interface", 1));
        assert_eq!((token.key, token.value), ("token", "1"));
    }

    #[test]
    fn unbalanced_braces_are_reported_where_they_are() {
        assert_eq!(
            errors("}\n"),
            ["c.conf:1:1: unexpected \"}\": no section is open"]
        );
        assert_eq!(
            errors("totem {\n  interface {\n"),
            [
                "c.conf:1:1: section \"totem\" is never closed",
                "c.conf:2:3: totem: section \"interface\" is never closed",
            ]
        );
    }

    #[test]
    fn lexer_errors_carry_the_section_path() {
        assert_eq!(
            errors("totem {\n  token 3000\n}\n"),
            [
                "c.conf:2:3: totem: expected \"key: value\", \"name {\" or \"}\", found \"token \
                 3000\""
            ]
        );
    }
}
