//! A linear pre-scan of manifest text that refuses, before the YAML parser
//! runs, what would make parsing slow or the decoded manifest huge.
//!
//! What serde_yaml 0.9 (libyaml underneath) guarantees on its own, and what
//! it does not:
//!
//! * It parses the whole document into a list of events before it decodes
//!   anything. That parse has no size limit and no nesting limit, and
//!   libyaml's bookkeeping of flow collections (`[`, `{`) costs time in
//!   proportion to their depth for each token, so text such as `a: [[[[…`
//!   or `{a: {a: …` parses in time quadratic in its length (in a debug
//!   build 80 KB of `{a: ` took 3 s, and 200 KB of brackets 24 s).
//! * While decoding it refuses nesting deeper than 128 ("recursion limit
//!   exceeded"), but only after the parse above has finished.
//! * It follows at most 100 aliases per event of the document ("repetition
//!   limit exceeded"). That stops the exponential "billion laughs" of nested
//!   anchors, but not a linear one: each alias of a large scalar or mapping
//!   is one step and is copied whole, so a 1 MiB file can decode to
//!   gigabytes.
//!
//! So this module walks the text once, tokenising it the way libyaml's
//! scanner does (quoted, plain and block scalars, comments, flow and block
//! collections, indentation), and refuses nesting deeper than
//! [`MAX_NESTING_DEPTH`], more than [`MAX_ALIASES`] aliases, and aliases
//! that could repeat more than [`MAX_ALIAS_EXPANSION`] bytes of text. It
//! must never count less than libyaml sees, so where it cannot tell it
//! counts more: an alias stands for all the text between its anchor and the
//! anchor's first alias. Text libyaml would reject still fails as a syntax
//! error; the scan need only agree with libyaml up to libyaml's first error.

use std::collections::HashMap;
use std::path::Path;

use crate::{ManifestError, MAX_ALIASES, MAX_ALIAS_EXPANSION, MAX_NESTING_DEPTH};

/// Refuses `text` if it nests too deep or its aliases could repeat too much.
pub(crate) fn check(text: &str, source: &Path) -> Result<(), ManifestError> {
    let mut scanner = Scanner::new(text.as_bytes());
    scanner
        .run()
        .map_err(|Refusal { line, what }| ManifestError::TooComplex {
            path: source.to_path_buf(),
            line,
            what,
        })
}

/// Why and where the scan stopped.
struct Refusal {
    line: usize,
    what: String,
}

/// A position as libyaml's scanner counts it: characters, not bytes.
#[derive(Clone, Copy)]
struct Mark {
    index: usize,
    line: usize,
    column: i64,
}

/// An anchor (`&name`), and once it has an alias, how many bytes of text
/// each alias of it may repeat.
struct Anchor {
    at: usize,
    repeats: Option<u64>,
}

/// libyaml's scanner state, reduced to what decides where tokens start and
/// how deep they nest.
struct Scanner<'a> {
    text: &'a [u8],
    pos: usize,
    mark: Mark,
    flow_level: usize,
    /// The column of the innermost block collection (-1 outside any).
    indent: i64,
    indents: Vec<i64>,
    simple_key_allowed: bool,
    /// Where a key of a block mapping may have started (libyaml's "simple
    /// key" at flow level 0); a `:` opens the mapping at its column.
    block_key: Option<Mark>,
    /// Every anchor in order, and the latest of each name (the one an alias
    /// refers to).
    anchors: Vec<Anchor>,
    anchor_names: HashMap<&'a [u8], usize>,
    alias_count: usize,
    /// Where each alias of a known anchor is, in order, and how many bytes
    /// it and those before it may repeat together.
    alias_at: Vec<usize>,
    repeated: Vec<u64>,
}

/// libyaml forgets a possible key this many characters back.
const SIMPLE_KEY_REACH: usize = 1024;

/// Characters that cannot start a plain scalar (some can, if followed by a
/// non-blank).
const INDICATORS: &[u8] = b"-?:,[]{}#&*!|>'\"%@`";

impl<'a> Scanner<'a> {
    fn new(text: &'a [u8]) -> Self {
        Scanner {
            text,
            pos: 0,
            mark: Mark {
                index: 0,
                line: 0,
                column: 0,
            },
            flow_level: 0,
            indent: -1,
            indents: Vec::new(),
            simple_key_allowed: true,
            block_key: None,
            anchors: Vec::new(),
            anchor_names: HashMap::new(),
            alias_count: 0,
            alias_at: Vec::new(),
            repeated: vec![0],
        }
    }

    /// Scans every token.
    fn run(&mut self) -> Result<(), Refusal> {
        loop {
            self.skip_to_next_token();
            self.forget_stale_key();
            self.unroll_indent(self.mark.column);
            if self.pos >= self.text.len() {
                return Ok(());
            }
            self.token()?;
        }
    }

    // --- characters ---

    fn peek(&self, offset: usize) -> u8 {
        self.text.get(self.pos + offset).copied().unwrap_or(0)
    }

    fn is_break(&self, offset: usize) -> bool {
        let at = |k: usize| self.peek(offset + k);
        matches!(at(0), b'\r' | b'\n')
            || (at(0) == 0xC2 && at(1) == 0x85)
            || (at(0) == 0xE2 && at(1) == 0x80 && matches!(at(2), 0xA8 | 0xA9))
    }

    fn is_blank(&self, offset: usize) -> bool {
        matches!(self.peek(offset), b' ' | b'\t')
    }

    /// End of text (or a NUL, where libyaml stops too).
    fn is_end(&self, offset: usize) -> bool {
        self.peek(offset) == 0
    }

    fn is_blank_or_end(&self, offset: usize) -> bool {
        self.is_blank(offset) || self.is_break(offset) || self.is_end(offset)
    }

    fn is_break_or_end(&self, offset: usize) -> bool {
        self.is_break(offset) || self.is_end(offset)
    }

    /// Steps over one character (not a line break).
    fn advance(&mut self) {
        let width = match self.peek(0) {
            0xF0.. => 4,
            0xE0.. => 3,
            0xC0.. => 2,
            _ => 1,
        };
        self.pos = (self.pos + width).min(self.text.len());
        self.mark.index += 1;
        self.mark.column += 1;
    }

    /// Steps over one line break.
    fn advance_line(&mut self) {
        let (bytes, chars) = match self.peek(0) {
            b'\r' if self.peek(1) == b'\n' => (2, 2),
            b'\r' | b'\n' => (1, 1),
            0xC2 => (2, 1),
            _ => (3, 1),
        };
        self.pos = (self.pos + bytes).min(self.text.len());
        self.mark.index += chars;
        self.mark.line += 1;
        self.mark.column = 0;
    }

    /// Steps over the rest of the line, up to its break.
    fn skip_to_break(&mut self) {
        while !self.is_break_or_end(0) {
            self.advance();
        }
    }

    fn at_document_marker(&self) -> bool {
        let three = |c: u8| (0..3).all(|k| self.peek(k) == c);
        self.mark.column == 0 && (three(b'-') || three(b'.')) && self.is_blank_or_end(3)
    }

    fn line(&self) -> usize {
        self.mark.line + 1
    }

    // --- libyaml's scanner state ---

    /// Blanks, comments and line breaks before the next token.
    fn skip_to_next_token(&mut self) {
        loop {
            if self.mark.column == 0 && self.text[self.pos..].starts_with(b"\xEF\xBB\xBF") {
                self.advance();
            }
            while self.peek(0) == b' '
                || ((self.flow_level > 0 || !self.simple_key_allowed) && self.peek(0) == b'\t')
            {
                self.advance();
            }
            if self.peek(0) == b'#' {
                self.skip_to_break();
            }
            if !self.is_break(0) {
                return;
            }
            self.advance_line();
            if self.flow_level == 0 {
                self.simple_key_allowed = true;
            }
        }
    }

    fn forget_stale_key(&mut self) {
        if let Some(key) = self.block_key {
            if key.line < self.mark.line || key.index + SIMPLE_KEY_REACH < self.mark.index {
                self.block_key = None;
            }
        }
    }

    fn save_key(&mut self) {
        if self.simple_key_allowed && self.flow_level == 0 {
            self.block_key = Some(self.mark);
        }
    }

    fn remove_key(&mut self) {
        if self.flow_level == 0 {
            self.block_key = None;
        }
    }

    /// A block collection starts at `column` if it is deeper than the
    /// current one.
    fn roll_indent(&mut self, column: i64) -> Result<(), Refusal> {
        if self.flow_level == 0 && self.indent < column {
            self.indents.push(self.indent);
            self.indent = column;
            self.check_depth()?;
        }
        Ok(())
    }

    /// Block collections deeper than `column` end.
    fn unroll_indent(&mut self, column: i64) {
        if self.flow_level > 0 {
            return;
        }
        while self.indent > column {
            self.indent = self.indents.pop().unwrap_or(-1);
        }
    }

    fn check_depth(&self) -> Result<(), Refusal> {
        let depth = self.indents.len() + self.flow_level;
        if depth <= MAX_NESTING_DEPTH {
            return Ok(());
        }
        Err(self.refusal(format!(
            "collections are nested {depth} deep here, more than the limit of \
             {MAX_NESTING_DEPTH} (a manifest needs about 5)"
        )))
    }

    // --- tokens ---

    /// Scans the token at the current position, dispatching as libyaml's
    /// `yaml_parser_fetch_next_token` does.
    fn token(&mut self) -> Result<(), Refusal> {
        let c = self.peek(0);
        let flow = self.flow_level > 0;
        let directive = self.mark.column == 0 && c == b'%';
        if directive || self.at_document_marker() {
            // Either ends every block collection. A directive fills its
            // line; a document may start on the line of its `---`.
            self.unroll_indent(-1);
            self.remove_key();
            self.simple_key_allowed = false;
            if directive {
                self.skip_to_break();
            } else {
                (0..3).for_each(|_| self.advance());
            }
            return Ok(());
        }
        match c {
            b'[' | b'{' => {
                self.save_key();
                self.flow_level += 1;
                self.check_depth()?;
                self.simple_key_allowed = true;
                self.advance();
            }
            b']' | b'}' => {
                self.remove_key();
                self.flow_level = self.flow_level.saturating_sub(1);
                self.simple_key_allowed = false;
                self.advance();
            }
            b',' => {
                self.remove_key();
                self.simple_key_allowed = true;
                self.advance();
            }
            b'-' if self.is_blank_or_end(1) => {
                self.roll_indent(self.mark.column)?;
                self.remove_key();
                self.simple_key_allowed = true;
                self.advance();
            }
            b'?' if flow || self.is_blank_or_end(1) => {
                self.roll_indent(self.mark.column)?;
                self.remove_key();
                self.simple_key_allowed = !flow;
                self.advance();
            }
            b':' if flow || self.is_blank_or_end(1) => self.value()?,
            b'*' | b'&' => {
                self.save_key();
                self.simple_key_allowed = false;
                self.anchor_or_alias()?;
            }
            b'!' => {
                self.save_key();
                self.simple_key_allowed = false;
                self.tag();
            }
            b'|' | b'>' if !flow => {
                self.remove_key();
                self.simple_key_allowed = true;
                self.block_scalar();
            }
            b'\'' | b'"' => {
                self.save_key();
                self.simple_key_allowed = false;
                self.quoted_scalar(c);
            }
            _ if self.starts_plain_scalar() => {
                self.save_key();
                self.simple_key_allowed = false;
                self.plain_scalar();
            }
            // libyaml stops here ("found character that cannot start any
            // token"); stepping on only risks counting more.
            _ => self.advance(),
        }
        Ok(())
    }

    /// `:` after a key: in block context it opens a mapping at the key's
    /// column (or its own, if no key can be seen).
    fn value(&mut self) -> Result<(), Refusal> {
        if self.flow_level == 0 {
            match self.block_key.take() {
                Some(key) => {
                    self.roll_indent(key.column)?;
                    self.simple_key_allowed = false;
                }
                None => {
                    self.roll_indent(self.mark.column)?;
                    self.simple_key_allowed = true;
                }
            }
        } else {
            self.simple_key_allowed = false;
        }
        self.advance();
        Ok(())
    }

    fn starts_plain_scalar(&self) -> bool {
        let c = self.peek(0);
        let indicator = self.is_blank_or_end(0) || INDICATORS.contains(&c);
        !indicator
            || (c == b'-' && !self.is_blank(1))
            || (self.flow_level == 0 && matches!(c, b'?' | b':') && !self.is_blank_or_end(1))
    }

    /// `&name` or `*name`; names are `[0-9A-Za-z_-]+`.
    fn anchor_or_alias(&mut self) -> Result<(), Refusal> {
        let at = self.pos;
        let is_alias = self.peek(0) == b'*';
        self.advance();
        let start = self.pos;
        while matches!(self.peek(0), b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z' | b'_' | b'-') {
            self.advance();
        }
        let name = &self.text[start..self.pos];
        if name.is_empty() {
            return Ok(());
        }
        if is_alias {
            let anchor = self.anchor_names.get(name).copied();
            return self.alias(at, anchor);
        }
        self.anchor_names.insert(name, self.anchors.len());
        self.anchors.push(Anchor { at, repeats: None });
        Ok(())
    }

    /// `!tag`, `!handle!suffix` or `!<verbatim>`.
    fn tag(&mut self) {
        self.advance();
        let verbatim = self.peek(0) == b'<';
        if verbatim {
            self.advance();
        }
        while is_tag_char(self.peek(0), verbatim) {
            self.advance();
        }
        if verbatim && self.peek(0) == b'>' {
            self.advance();
        }
    }

    /// `'…'` (with `''` for a quote) or `"…"` (with `\` escapes), over any
    /// number of lines.
    fn quoted_scalar(&mut self, quote: u8) {
        self.advance();
        loop {
            // libyaml stops with an error at the end or at a document
            // marker inside the quotes.
            if self.is_end(0) || self.at_document_marker() {
                return;
            }
            let c = self.peek(0);
            if quote == b'\'' && c == b'\'' && self.peek(1) == b'\'' {
                self.advance();
                self.advance();
            } else if c == quote {
                self.advance();
                return;
            } else if quote == b'"' && c == b'\\' {
                self.advance();
                self.advance_any();
            } else {
                self.advance_any();
            }
        }
    }

    /// Steps over one character or line break.
    fn advance_any(&mut self) {
        if self.is_break(0) {
            self.advance_line();
        } else if !self.is_end(0) {
            self.advance();
        }
    }

    /// A plain scalar, which may go on over lines (in block context only
    /// while they are indented deeper than the enclosing collection).
    fn plain_scalar(&mut self) {
        let indent = self.indent + 1;
        let flow = self.flow_level > 0;
        let mut leading_blanks = false;
        loop {
            if self.at_document_marker() || self.peek(0) == b'#' {
                break;
            }
            while !self.is_blank_or_end(0) {
                let c = self.peek(0);
                let ends_at_colon = c == b':'
                    && (self.is_blank_or_end(1) || (flow && b",?[]{}".contains(&self.peek(1))));
                if ends_at_colon || (flow && b",[]{}".contains(&c)) {
                    break;
                }
                self.advance();
            }
            if !(self.is_blank(0) || self.is_break(0)) {
                break;
            }
            while self.is_blank(0) || self.is_break(0) {
                if self.is_break(0) {
                    self.advance_line();
                    leading_blanks = true;
                } else {
                    self.advance();
                }
            }
            if !flow && self.mark.column < indent {
                break;
            }
        }
        if leading_blanks {
            self.simple_key_allowed = true;
        }
    }

    /// `|` or `>`, its header, and every line indented at least as deep as
    /// its content (which the first non-empty line decides, unless the
    /// header gives it).
    fn block_scalar(&mut self) {
        self.advance();
        let mut increment = 0;
        for _ in 0..2 {
            match self.peek(0) {
                b'+' | b'-' => self.advance(),
                digit @ b'1'..=b'9' => {
                    increment = i64::from(digit - b'0');
                    self.advance();
                }
                _ => break,
            }
        }
        while self.is_blank(0) {
            self.advance();
        }
        if self.peek(0) == b'#' {
            self.skip_to_break();
        }
        if !self.is_break_or_end(0) {
            // libyaml stops: "did not find expected comment or line break".
            return;
        }
        if self.is_break(0) {
            self.advance_line();
        }
        let mut indent = match increment {
            0 => 0,
            n if self.indent >= 0 => self.indent + n,
            n => n,
        };
        self.block_scalar_breaks(&mut indent);
        while self.mark.column == indent && !self.is_end(0) {
            self.skip_to_break();
            if self.is_end(0) {
                return;
            }
            self.advance_line();
            self.block_scalar_breaks(&mut indent);
        }
    }

    /// Leading spaces and empty lines of a block scalar; decides `indent`
    /// if it is still 0.
    fn block_scalar_breaks(&mut self, indent: &mut i64) {
        let mut max_indent = 0;
        loop {
            while (*indent == 0 || self.mark.column < *indent) && self.peek(0) == b' ' {
                self.advance();
            }
            max_indent = max_indent.max(self.mark.column);
            if !self.is_break(0) {
                break;
            }
            self.advance_line();
        }
        if *indent == 0 {
            *indent = max_indent.max(self.indent + 1).max(1);
        }
    }

    // --- aliases ---

    /// Counts an alias of the anchor `anchor` at `at`, refusing it if there
    /// are too many or if the aliases so far could repeat too much text.
    ///
    /// The node an anchor names ends before its first alias (an alias
    /// inside its own node is a cycle, which the decoder refuses at once as
    /// no manifest field can hold its own kind), so it is at most the text
    /// from the anchor to that first alias, plus what the aliases in that
    /// text repeat in turn. Later aliases of the same anchor repeat as much.
    fn alias(&mut self, at: usize, anchor: Option<usize>) -> Result<(), Refusal> {
        self.alias_count += 1;
        if self.alias_count > MAX_ALIASES {
            return Err(self.refusal(format!(
                "more than {MAX_ALIASES} aliases (`*name`); each repeats what its anchor \
                 names, so they are limited"
            )));
        }
        // An alias of an unknown anchor is a syntax error for the parser.
        let Some(anchor) = anchor else {
            return Ok(());
        };
        let anchor_at = self.anchors[anchor].at;
        let repeats = match self.anchors[anchor].repeats {
            Some(bytes) => bytes,
            None => {
                let first_inside = self.alias_at.partition_point(|&a| a <= anchor_at);
                let nested = self.repeated_so_far() - self.repeated[first_inside];
                let bytes = ((at - anchor_at) as u64).saturating_add(nested);
                self.anchors[anchor].repeats = Some(bytes);
                bytes
            }
        };
        let total = self.repeated_so_far().saturating_add(repeats);
        self.alias_at.push(at);
        self.repeated.push(total);
        if total > MAX_ALIAS_EXPANSION as u64 {
            return Err(self.refusal(format!(
                "the aliases (`*name`) up to here may repeat {total} bytes of the manifest, \
                 more than the limit of {MAX_ALIAS_EXPANSION}"
            )));
        }
        Ok(())
    }

    /// Bytes all aliases so far may repeat.
    fn repeated_so_far(&self) -> u64 {
        self.repeated.last().copied().unwrap_or(0)
    }

    fn refusal(&self, what: String) -> Refusal {
        Refusal {
            line: self.line(),
            what,
        }
    }
}

/// A character of a tag, as libyaml's `yaml_parser_scan_tag_uri` takes
/// them (`,[]` only inside `!<…>`).
fn is_tag_char(c: u8, verbatim: bool) -> bool {
    c.is_ascii_alphanumeric()
        || b"-_;/?:@&=+$.%!~*'()".contains(&c)
        || (verbatim && b",[]".contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(text: &str) -> Option<String> {
        check(text, Path::new("m.yaml"))
            .err()
            .map(|e| e.to_string())
    }

    /// The deepest nesting of a parsed document, as serde_yaml sees it.
    fn parsed_depth(text: &str) -> usize {
        fn depth(value: &serde_yaml::Value) -> usize {
            match value {
                serde_yaml::Value::Sequence(items) => {
                    1 + items.iter().map(depth).max().unwrap_or(0)
                }
                serde_yaml::Value::Mapping(map) => {
                    1 + map
                        .iter()
                        .map(|(k, v)| depth(k).max(depth(v)))
                        .max()
                        .unwrap_or(0)
                }
                serde_yaml::Value::Tagged(tagged) => depth(&tagged.value),
                _ => 0,
            }
        }
        let value: serde_yaml::Value = serde_yaml::from_str(text).expect("valid YAML");
        depth(&value)
    }

    fn nested(open: &str, close: &str, levels: usize) -> String {
        format!("a: {}x{}\n", open.repeat(levels), close.repeat(levels))
    }

    #[test]
    fn nesting_up_to_the_limit_passes() {
        let text = nested("[", "]", MAX_NESTING_DEPTH - 1);
        assert_eq!(parsed_depth(&text), MAX_NESTING_DEPTH);
        assert_eq!(refusal(&text), None);
    }

    #[test]
    fn nesting_over_the_limit_is_refused() {
        for (open, close) in [("[", "]"), ("{a: ", "}"), ("[\"]\", ", "]")] {
            let text = nested(open, close, MAX_NESTING_DEPTH);
            assert_eq!(parsed_depth(&text), MAX_NESTING_DEPTH + 1, "{text}");
            let message = refusal(&text).expect(open);
            assert!(
                message.starts_with("m.yaml:1: collections are nested 33 deep"),
                "{message}"
            );
        }
    }

    #[test]
    fn block_nesting_counts() {
        let deep = "- ".repeat(MAX_NESTING_DEPTH + 1) + "x\n";
        assert!(refusal(&deep).is_some());
        let mut indented = String::new();
        for level in 0..=MAX_NESTING_DEPTH {
            indented += &format!("{}k{level}:\n", "  ".repeat(level));
        }
        assert!(refusal(&indented).is_some());
        assert_eq!(refusal(&"- ".repeat(MAX_NESTING_DEPTH)), None);
    }

    #[test]
    fn brackets_in_scalars_and_comments_do_not_count() {
        let brackets = "[".repeat(40);
        let texts = [
            format!("a: '{brackets}'\n"),
            format!("a: \"{brackets}\\\"\"\n"),
            format!("a: x{brackets}\n"),
            format!("a: 1 # {brackets}\n"),
            format!("a: |\n  {brackets}\n  more\nb: 1\n"),
            format!("a: >2\n   {brackets}\n\nb: 1\n"),
            format!("a: it's\n  {brackets}\n"),
            format!("a: 'it''s {brackets}'\n"),
        ];
        for text in texts {
            assert_eq!(parsed_depth(&text), 1, "{text}");
            assert_eq!(refusal(&text), None, "{text}");
        }
    }

    /// Text that tempts a scanner into taking a quote or comment for what it
    /// is not, hiding the brackets after it.
    #[test]
    fn quotes_that_are_not_quotes_hide_nothing() {
        let deep = format!("{}x{}", "[".repeat(40), "]".repeat(40));
        let texts = [
            format!("a: it's\nb: {deep}\nc: 'z'\n"),
            format!("a: [it\n 's, {deep}, 'z']\n"),
            format!("a: |\n  x\n  'y\nb: {deep}\nc: 'z'\n"),
            format!("- k: |\n    x\n    'y\n- {deep}\n- 'z'\n"),
            format!("a: x#'\nb: {deep}\nc: 'z'\n"),
            format!("a: 'b: [ '\nc: {deep}\nd: 'z'\n"),
            format!("a: \"x\\\\\"\nb: {deep}\nc: \"z\"\n"),
            format!("a: x'\n  y\nb: {deep}\n"),
            format!("--- {deep}\n"),
            format!("a: 1\n...\n--- {deep}\n"),
        ];
        for text in texts {
            if serde_yaml::from_str::<serde_yaml::Value>(&text).is_ok() {
                assert!(parsed_depth(&text) > MAX_NESTING_DEPTH, "{text}");
            }
            assert!(refusal(&text).is_some(), "{text}");
        }
    }

    #[test]
    fn json_text_is_scanned_too() {
        let json = r#"{"actors": ["a.wasm"], "bindings": [{"values": {"A": "[{"}}]}"#;
        assert_eq!(refusal(json), None);
        let deep = format!("{{\"a\": {}1{}}}", "[".repeat(40), "]".repeat(40));
        assert!(refusal(&deep).is_some());
    }

    #[test]
    fn aliases_over_the_count_are_refused() {
        let within = format!("a: &x 1\nb: [{}]\n", vec!["*x"; MAX_ALIASES].join(", "));
        assert_eq!(refusal(&within), None);
        let over = format!("a: &x 1\nb: [{}]\n", vec!["*x"; MAX_ALIASES + 1].join(", "));
        let message = refusal(&over).expect("refused");
        assert!(
            message.starts_with("m.yaml:2: more than 64 aliases"),
            "{message}"
        );
    }

    #[test]
    fn stars_that_are_not_aliases_do_not_count() {
        let stars = vec!["a*b 'c *d' \"*e\""; 100].join(", ");
        let text = format!("a: [{stars}]\n# *x *y\nb: |\n  *z\n");
        assert_eq!(refusal(&text), None);
    }

    #[test]
    fn aliases_of_a_large_node_are_refused() {
        let big = "x".repeat(MAX_ALIAS_EXPANSION / 4);
        let text = format!("a: &big {big}\nb: [*big, *big, *big]\nc: [*big, *big]\n");
        let message = refusal(&text).expect("refused");
        assert!(message.starts_with("m.yaml:3: the aliases"), "{message}");
    }

    #[test]
    fn nested_aliases_multiply() {
        // Each level repeats the one before twice: 2^20 copies of `a`'s text.
        let mut text = "l0: &l0 [aaaaaaaaaa]\n".to_owned();
        for level in 1..=20 {
            let before = level - 1;
            text += &format!("l{level}: &l{level} [*l{before}, *l{before}]\n");
        }
        let message = refusal(&text).expect("refused");
        assert!(message.contains("the aliases"), "{message}");
    }

    /// Random text around a nesting bomb: whenever serde_yaml gets deep
    /// enough to hit its own recursion limit (128), the bomb was real to
    /// libyaml, and the scan must have refused it. (No anchors: an alias
    /// inside its own node hits that limit without any nesting.)
    #[test]
    fn no_random_text_hides_nesting_the_parser_sees() {
        const PIECES: &[&str] = &[
            "'", "\"", "\\", "#", ": ", ":", " ", "\n", "\n ", "\n  ", "\n    ", "- ", "- - ",
            "? ", "? a", "|", ">", "|2", "a", "it's", "x:", "k: ", "!t ", "!<x[> ", ",", "[", "]",
            "{", "}", "\t", "\r\n", "---\n", "--- ", "...\n", "%Y\n", "''", "\\\"",
        ];
        let bombs = [
            format!("{}x{}", "[".repeat(150), "]".repeat(150)),
            format!("{}x{}", "[\"]\", ".repeat(150), "]".repeat(150)),
            format!("{}{{a: x}}", "- ".repeat(150)),
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut random = move |below: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % below as u64) as usize
        };
        for bomb in bombs {
            let mut deep_seen = 0;
            for _ in 0..10_000 {
                let pieces = random(24);
                let mut text = String::new();
                for i in 0..pieces * 2 {
                    if i == pieces {
                        text += &bomb;
                    }
                    text += PIECES[random(PIECES.len())];
                }
                let parsed = serde_yaml::from_str::<serde_yaml::Value>(&text);
                if parsed.is_err_and(|e| e.to_string().contains("recursion limit exceeded")) {
                    deep_seen += 1;
                    assert!(refusal(&text).is_some(), "{text:?}");
                }
            }
            assert!(deep_seen > 100, "only {deep_seen} texts reached {bomb}");
        }
    }
}
