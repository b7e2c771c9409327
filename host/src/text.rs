//! Untrusted text (from plugins or evidence) on its way to a terminal or a log: control characters
//! escaped, length cut.
//!
//! Everything a plugin hands the host (names, messages, findings, step details, panic messages, log
//! lines) is untrusted. Printed raw, an escape sequence could redraw `FAIL` as `pass`, set the window
//! title or write the clipboard, and a newline could forge a log line of the host's own.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` with every character that could change how a terminal shows it escaped as `\u{..}`: C0
/// controls (including `\t`, `\n`, `\r`, ESC), DEL, C1 controls, and the Unicode bidirectional
/// overrides, embeddings and isolates. Borrowed when there is nothing to escape. Idempotent.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    escape(text, false)
}

/// [`sanitize`], but newlines stay: for multi-line text such as a plugin's stderr.
pub(crate) fn sanitize_lines(text: &str) -> Cow<'_, str> {
    escape(text, true)
}

fn escape(text: &str, keep_newlines: bool) -> Cow<'_, str> {
    let unsafe_char = |c: char| is_unsafe(c) && !(keep_newlines && c == '\n');
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if unsafe_char(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn is_unsafe(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        // Arabic letter mark, left-to-right and right-to-left marks
        | '\u{61c}' | '\u{200e}' | '\u{200f}'
        // embeddings and overrides (LRE, RLE, PDF, LRO, RLO), isolates (LRI, RLI, FSI, PDI)
        | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        // line and paragraph separators: a terminal may break the line there
        | '\u{2028}' | '\u{2029}')
}

/// The longest prefix of `s` within `max` bytes, on a character boundary.
pub(crate) fn prefix(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `s` cut to at most `max` bytes plus a note saying how much was cut.
pub(crate) fn truncate(mut s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    let cut = s.len() - prefix(&s, max).len();
    s.truncate(s.len() - cut);
    let _ = write!(s, "… ({cut} more bytes cut by the host)");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls_and_bidi_overrides() {
        assert!(matches!(sanitize("plain text, ünïcode ✓"), Cow::Borrowed(_)));
        assert_eq!(sanitize("a\x1b[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(sanitize("line\r\nERROR forged"), "line\\u{d}\\u{a}ERROR forged");
        assert_eq!(sanitize("\u{9b}31m\u{7f}\t"), "\\u{9b}31m\\u{7f}\\u{9}");
        assert_eq!(sanitize("pass\u{202e}liaf"), "pass\\u{202e}liaf");
        assert_eq!(sanitize("\u{2066}x\u{2069}"), "\\u{2066}x\\u{2069}");
        let once = sanitize("\x1b]0;title\x07").into_owned();
        assert_eq!(sanitize(&once), once, "idempotent");
        assert_eq!(sanitize_lines("a\nb\x1b"), "a\nb\\u{1b}");
    }

    #[test]
    fn truncates_on_a_character_boundary_with_a_note() {
        assert_eq!(truncate("short".into(), 10), "short");
        let cut = truncate("ééé".into(), 3);
        assert_eq!(cut, "é… (4 more bytes cut by the host)");
        assert_eq!(prefix("ééé", 3), "é");
    }
}
