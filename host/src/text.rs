//! Text from untrusted sources (plugins, evidence) made safe to print on a terminal.

use std::borrow::Cow;
use std::fmt::Write;

/// `text` with every control character (C0, DEL, C1) and every Unicode bidirectional control escaped
/// as `\u{…}`, so it cannot move the cursor, recolour `FAIL` as `pass`, set the window title, write
/// the clipboard, or start a forged line. Borrowed when there is nothing to escape.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_drives_a_terminal_and_keeps_the_rest() {
        assert!(matches!(sanitize("plain text, ünïcode ✓"), Cow::Borrowed(_)));
        assert_eq!(sanitize("\x1b[32mpass\x1b[0m"), "\\u{1b}[32mpass\\u{1b}[0m");
        assert_eq!(sanitize("a\nERROR forged\r"), "a\\u{a}ERROR forged\\u{d}");
        assert_eq!(sanitize("\u{9b}\u{7f}\u{202e}"), "\\u{9b}\\u{7f}\\u{202e}");
    }
}
