//! The one writer of every CSV the site hands out (usage, invoice lines), so that no
//! spreadsheet in any locale reads a cell as a formula or splits it in two:
//! - a text cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return gets a
//!   leading apostrophe (OWASP's advice on CSV injection);
//! - a cell that holds a separator (`,`, or `;` which spreadsheets in many locales split
//!   on), a double quote or a line break is quoted, its quotes doubled (RFC 4180).
//!
//! Numbers are written as they are (a negative amount keeps its minus sign), and only a
//! cell that is a plain decimal number is taken as one; anything else is text.

use actix_web::HttpResponse;

/// One cell of a row.
pub enum Cell<'a> {
    /// Text from anywhere (a name, a product, a description): neutralised and quoted.
    Text(&'a str),
    /// A number the server formatted (`-12.50`, `1000`): written as it is.
    Number(String),
}

/// A CSV document built row by row.
pub struct CsvExport {
    out: String,
}

impl CsvExport {
    /// A document whose first row is `header`.
    pub fn new(header: &[&str]) -> Self {
        let mut export = CsvExport { out: String::new() };
        export.row(header.iter().map(|h| Cell::Text(h)));
        export
    }

    pub fn row<'a>(&mut self, cells: impl IntoIterator<Item = Cell<'a>>) {
        for (i, cell) in cells.into_iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            match cell {
                Cell::Number(n) if is_plain_number(&n) => self.out.push_str(&n),
                Cell::Number(n) => push_text(&mut self.out, &n),
                Cell::Text(t) => push_text(&mut self.out, t),
            }
        }
        self.out.push('\n');
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.out.into_bytes()
    }

    /// The document as a download named `filename` (which the caller makes header-safe).
    pub fn download(self, filename: &str) -> HttpResponse {
        HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header(("Content-Disposition", format!("attachment; filename=\"{filename}\"")))
            .body(self.into_bytes())
    }
}

fn is_plain_number(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.chars().filter(|c| *c == '.').count() <= 1
        && digits.chars().any(|c| c.is_ascii_digit())
}

fn push_text(out: &mut String, text: &str) {
    let neutral = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_owned() };
    if neutral.contains([',', ';', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&neutral.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&neutral);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(cells: Vec<Cell<'_>>) -> String {
        let mut export = CsvExport { out: String::new() };
        export.row(cells);
        String::from_utf8(export.into_bytes()).unwrap()
    }

    #[test]
    fn text_cells_never_start_a_formula() {
        for evil in ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            let written = line(vec![Cell::Text(evil)]);
            assert!(written.trim_start_matches('"').starts_with('\''), "{evil:?}: {written:?}");
        }
        assert_eq!(line(vec![Cell::Text("GPT run"), Cell::Text("")]), "GPT run,\n");
    }

    #[test]
    fn cells_with_a_separator_a_quote_or_a_line_break_are_quoted() {
        assert_eq!(line(vec![Cell::Text("a,b"), Cell::Text("a;b")]), "\"a,b\",\"a;b\"\n");
        assert_eq!(line(vec![Cell::Text("say \"hi\"")]), "\"say \"\"hi\"\"\"\n");
        assert_eq!(line(vec![Cell::Text("two\nlines"), Cell::Text("x\r\n")]), "\"two\nlines\",\"x\r\n\"\n");
        assert_eq!(line(vec![Cell::Text("=1;2")]), "\"'=1;2\"\n");
    }

    #[test]
    fn only_plain_numbers_are_written_as_numbers() {
        assert_eq!(line(vec![Cell::Number("-12.50".into()), Cell::Number("1000".into())]), "-12.50,1000\n");
        assert_eq!(line(vec![Cell::Number("-1+2".into())]), "'-1+2\n");
        assert_eq!(line(vec![Cell::Number("1,5".into())]), "\"1,5\"\n");
    }
}
