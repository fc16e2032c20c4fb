//! The bulk-invite CSV (`email,role`, up to 50 rows): parsing and per-row checks that need
//! no database. Accepts the header in any case and column order, UTF-8 with or without a
//! BOM, LF or CRLF, surrounding spaces and role names in any case, and files separated by
//! semicolons (what spreadsheets save as "CSV" where the comma is the decimal separator).

use super::email::EmailError;
use super::{EmailAddress, Role};
use std::collections::HashSet;

pub const MAX_BYTES: usize = 64 * 1024;
pub const MAX_ROWS: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    #[error("The file is empty. Upload a CSV with a header line (email,role) and one invite per line.")]
    Empty,
    #[error("The file is larger than 64 KiB. Split it into smaller files of at most 50 invites.")]
    TooLarge,
    #[error("The file is not UTF-8 text. Save it as “CSV UTF-8” and upload it again.")]
    NotUtf8,
    #[error(
        "The file has only its header line: there are no invitations in the file. Add one line per invite (email,role)."
    )]
    NoInvitations,
    #[error("The first line must be the header email,role (in any order).")]
    MissingHeader,
    #[error("The file is separated by {0}; use commas (email,role), or semicolons.")]
    UseCommas(&'static str),
    #[error("The file has {0} invites; at most 50 can be sent at once. Split it into smaller files.")]
    TooManyRows(usize),
    #[error("This doesn't look like a CSV file ({0}). Use the template.")]
    NotCsv(String),
}

/// A row as typed, with what the file alone says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvRow {
    /// The line number in the file (the header is line 1).
    pub line: usize,
    pub email: String,
    pub role: String,
    pub check: RowCheck,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowCheck {
    Valid(EmailAddress, Role),
    InvalidEmail(EmailError),
    UnknownRole,
    DuplicateInFile,
}

pub fn parse(bytes: &[u8]) -> Result<Vec<CsvRow>, CsvError> {
    if bytes.len() > MAX_BYTES {
        return Err(CsvError::TooLarge);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| CsvError::NotUtf8)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(CsvError::Empty);
    }
    if text.contains('\0') {
        return Err(CsvError::NotCsv("it contains binary data".into()));
    }
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .delimiter(delimiter(text)?)
        .from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| CsvError::NotCsv(e.to_string()))?.clone();
    let column = |name: &str| headers.iter().position(|h| h.trim().eq_ignore_ascii_case(name));
    let (Some(email_col), Some(role_col)) = (column("email"), column("role")) else {
        return Err(CsvError::MissingHeader);
    };
    let mut rows = Vec::new();
    let mut seen = HashSet::new();
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(|e| CsvError::NotCsv(e.to_string()))?;
        if record.iter().all(|f| f.is_empty()) {
            continue;
        }
        let email = record.get(email_col).unwrap_or_default().to_owned();
        let role = record.get(role_col).unwrap_or_default().to_owned();
        // The line the record starts on, counted from its byte offset: the reader's own line
        // count is off for CRLF files (what Excel on Windows saves), where a record's offset
        // is also that of the line break before it.
        let line = record
            .position()
            .map(|p| {
                let bytes = text.as_bytes();
                let from = (p.byte() as usize).min(bytes.len());
                let start = from + bytes[from..].iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
                bytes[..start].iter().filter(|&&b| b == b'\n').count() + 1
            })
            .unwrap_or(index + 2);
        let check = match (EmailAddress::parse(&email), role.parse::<Role>()) {
            (Err(e), _) => RowCheck::InvalidEmail(e),
            (Ok(_), Err(_)) => RowCheck::UnknownRole,
            (Ok(address), Ok(role)) => {
                if seen.insert(address.normalized().to_owned()) {
                    RowCheck::Valid(address, role)
                } else {
                    RowCheck::DuplicateInFile
                }
            }
        };
        rows.push(CsvRow { line, email, role, check });
    }
    if rows.len() > MAX_ROWS {
        return Err(CsvError::TooManyRows(rows.len()));
    }
    if rows.is_empty() {
        return Err(CsvError::NoInvitations);
    }
    Ok(rows)
}

/// The separator, read off the header line: a comma, or a semicolon when the header has
/// semicolons and no comma. A header held together by tabs or pipes is told to use commas.
fn delimiter(text: &str) -> Result<u8, CsvError> {
    let header = text.lines().find(|l| !l.trim().is_empty()).unwrap_or_default();
    if header.contains(',') {
        return Ok(b',');
    }
    if header.contains(';') {
        return Ok(b';');
    }
    let lower = header.to_ascii_lowercase();
    if lower.contains("email") && lower.contains("role") {
        for (separator, name) in [('\t', "tabs"), ('|', "vertical bars")] {
            if header.contains(separator) {
                return Err(CsvError::UseCommas(name));
            }
        }
    }
    Ok(b',')
}

/// The template offered for download.
pub const TEMPLATE: &str =
    "email,role\nalice@company.com,admin\nbob@company.com,developer\ncarol@company.com,billing\n";

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(rows: &[CsvRow]) -> Vec<(String, Role)> {
        rows.iter()
            .filter_map(|r| match &r.check {
                RowCheck::Valid(e, role) => Some((e.normalized().to_owned(), *role)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_template_parses() {
        let rows = parse(TEMPLATE.as_bytes()).unwrap();
        assert_eq!(valid(&rows).len(), 3);
        assert_eq!(rows[0].line, 2);
    }

    #[test]
    fn header_case_order_bom_crlf_spaces_and_role_case_are_accepted() {
        let file = "\u{feff} Role , EMAIL \r\n ADMIN , Alice@Company.com \r\nbilling,bob@company.com\r\n\r\n";
        let rows = parse(file.as_bytes()).unwrap();
        assert_eq!(
            valid(&rows),
            vec![("alice@company.com".to_owned(), Role::Admin), ("bob@company.com".to_owned(), Role::Billing)]
        );
        assert_eq!(rows[0].email, "Alice@Company.com", "shown as typed");
        let lines: Vec<usize> = rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 3], "CRLF lines are numbered as an editor shows them");
        let quoted = parse(b"email,role\r\n\"a\r\nb\",admin\r\n\r\nx@y.io,developer\r\n").unwrap();
        assert_eq!(quoted.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 5], "a field over two lines; a blank line");
    }

    #[test]
    fn a_file_separated_by_semicolons_is_read_as_such() {
        let rows = parse("\u{feff}email;role\r\nalice@x.io;Admin\r\n\"bob@x.io\";billing\r\n".as_bytes()).unwrap();
        assert_eq!(valid(&rows), vec![("alice@x.io".to_owned(), Role::Admin), ("bob@x.io".to_owned(), Role::Billing)]);
        // A comma in the header wins: a semicolon inside a field stays in the field.
        let rows = parse(b"email,role\na;b@x.io,admin\n").unwrap();
        assert!(matches!(rows[0].check, RowCheck::InvalidEmail(_)));
    }

    #[test]
    fn each_bad_row_says_what_is_wrong() {
        let file = "email,role\nnot-an-email,admin\nbob@x.io,owner\nbob@x.io,admin\nBOB@x.io,billing\n";
        let rows = parse(file.as_bytes()).unwrap();
        assert!(matches!(rows[0].check, RowCheck::InvalidEmail(_)));
        assert_eq!(rows[1].check, RowCheck::UnknownRole);
        assert!(matches!(rows[2].check, RowCheck::Valid(..)));
        assert_eq!(rows[3].check, RowCheck::DuplicateInFile);
    }

    #[test]
    fn files_that_cannot_be_used_are_refused_with_a_reason() {
        assert_eq!(parse(b""), Err(CsvError::Empty));
        assert_eq!(parse(b"email,role\n"), Err(CsvError::NoInvitations));
        assert_eq!(parse(b"email,role\r\n\r\n , \r\n"), Err(CsvError::NoInvitations));
        assert_eq!(parse(b"email\trole\na@x.io\tadmin\n"), Err(CsvError::UseCommas("tabs")));
        assert_eq!(parse(b"alice@x.io,admin\n"), Err(CsvError::MissingHeader));
        assert_eq!(parse(b"name,email\nA,a@x.io\n"), Err(CsvError::MissingHeader));
        assert_eq!(parse(&[0xff, 0xfe, 0x00, 0x41]), Err(CsvError::NotUtf8));
        assert!(matches!(parse(b"email,role\na@x.io,admin\0\n"), Err(CsvError::NotCsv(_))));
        let many: String = std::iter::once("email,role\n".to_owned())
            .chain((0..51).map(|n| format!("u{n}@x.io,developer\n")))
            .collect();
        assert_eq!(parse(many.as_bytes()), Err(CsvError::TooManyRows(51)));
        assert_eq!(parse(&vec![b'a'; MAX_BYTES + 1]), Err(CsvError::TooLarge));
        let fifty: String = std::iter::once("email,role\n".to_owned())
            .chain((0..50).map(|n| format!("u{n}@x.io,developer\n")))
            .collect();
        assert_eq!(valid(&parse(fifty.as_bytes()).unwrap()).len(), 50);
    }
}
