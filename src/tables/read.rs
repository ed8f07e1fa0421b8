//! Reading tables as a stream of rows: CSV (any dialect quirk a database export has) and
//! XLSX sheets. Both passes over a table (indexing, then rendering records) read through
//! [`read_table`], so row numbers agree between them.
//!
//! CSV is never held whole: it is parsed as bytes, record by record, and each cell is decoded
//! on its own — UTF-8 when it is valid, else Windows-1252 — so a file that mixes the two (an
//! export that was appended to by two systems) still reads. A UTF-8 BOM is skipped; UTF-16
//! (with a BOM) is decoded whole first, as it cannot be split on bytes.
//!
//! XLSX sheets are **not** streamed: calamine's `worksheet_range` holds the whole sheet (about
//! 32 bytes a cell plus its text) while it is read, once per pass. The format caps a sheet at
//! 1,048,576 rows, which bounds this, but a wide sheet near that cap costs hundreds of MB.
//! calamine 0.38 has a streaming `Xlsx::worksheet_cells_reader` that would remove this bound;
//! it yields cells at absolute positions, so using it means trimming leading empty columns
//! the way `Range` does (from the sheet's declared dimension) to keep row ids the same.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result, ResultExt};

/// Where a table's rows come from.
#[derive(Debug, Clone)]
pub(crate) enum TableSource {
    /// A CSV file.
    Csv(PathBuf),
    /// One sheet of a workbook.
    Sheet {
        /// The workbook.
        path: PathBuf,
        /// The sheet's name.
        sheet: String,
    },
}

/// What reading noticed.
#[derive(Debug, Default, Clone)]
pub(crate) struct ReadStats {
    /// Cells that were not valid UTF-8 and were decoded as Windows-1252.
    pub(crate) legacy_cells: usize,
    /// The text encoding, for the page's facts.
    pub(crate) encoding: &'static str,
    /// Data rows read (blank rows not counted).
    pub(crate) rows: usize,
    /// The widest row, in cells.
    pub(crate) max_width: usize,
}

/// Which row `read_table` hands over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Line {
    /// The first row (never called for an empty file).
    Header,
    /// A following row that is not blank.
    Row,
}

/// Reads a table, calling `on_line` with the header, then with every following row that is
/// not blank. Stops at the first error `on_line` returns.
pub(crate) fn read_table(
    source: &TableSource,
    mut on_line: impl FnMut(Line, Vec<String>) -> Result<()>,
) -> Result<ReadStats> {
    let mut stats = ReadStats {
        encoding: "UTF-8",
        ..ReadStats::default()
    };
    let mut first = true;
    let mut handle = |cells: Vec<String>, stats: &mut ReadStats| -> Result<()> {
        stats.max_width = stats.max_width.max(cells.len());
        if first {
            first = false;
            return on_line(Line::Header, cells);
        }
        if cells.iter().all(|c| c.trim().is_empty()) {
            return Ok(());
        }
        stats.rows += 1;
        on_line(Line::Row, cells)
    };
    match source {
        TableSource::Csv(path) => {
            let file = std::fs::File::open(path).with_path(path)?;
            let mut reader = BufReader::with_capacity(1 << 16, file);
            let head = reader.fill_buf().with_path(path)?;
            if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
                let mut bytes = Vec::new();
                reader.read_to_end(&mut bytes).with_path(path)?;
                let (encoding, bom) =
                    encoding_rs::Encoding::for_bom(&bytes).unwrap_or((encoding_rs::UTF_16LE, 2));
                let (text, _) = encoding.decode_without_bom_handling(&bytes[bom..]);
                stats.encoding = encoding.name();
                parse_csv(text.as_bytes(), &mut stats, &mut handle).with_path(path)?;
            } else {
                if head.starts_with(b"\xEF\xBB\xBF") {
                    reader.consume(3);
                }
                parse_csv(reader, &mut stats, &mut handle).with_path(path)?;
            }
            if stats.legacy_cells > 0 {
                stats.encoding = "windows-1252";
            }
        }
        TableSource::Sheet { path, sheet } => {
            let range = read_sheet(path, sheet)?;
            for row in range.rows() {
                handle(row.iter().map(cell_text).collect(), &mut stats)?;
            }
            stats.encoding = "XLSX";
        }
    }
    Ok(stats)
}

fn parse_csv(
    reader: impl Read,
    stats: &mut ReadStats,
    handle: &mut impl FnMut(Vec<String>, &mut ReadStats) -> Result<()>,
) -> Result<()> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut record = csv::ByteRecord::new();
    loop {
        match csv.read_byte_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {
                let cells = record
                    .iter()
                    .map(|field| decode_cell(field, &mut stats.legacy_cells))
                    .collect();
                handle(cells, stats)?;
            }
            Err(err) => return Err(Error::Other(format!("CSV: {err}"))),
        }
    }
}

/// One cell's bytes as text: UTF-8 when valid, else Windows-1252 (the usual legacy encoding
/// of US database exports).
fn decode_cell(field: &[u8], legacy: &mut usize) -> String {
    match std::str::from_utf8(field) {
        Ok(text) => text.to_owned(),
        Err(_) => {
            *legacy += 1;
            encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(field)
                .0
                .into_owned()
        }
    }
}

/// The names of a workbook's sheets, in workbook order.
pub(crate) fn sheet_names(path: &Path) -> Result<Vec<String>> {
    let workbook = calamine::open_workbook_auto(path)
        .map_err(|err| Error::Other(format!("workbook: {err}")).with_path(path))?;
    Ok(calamine::Reader::sheet_names(&workbook))
}

fn read_sheet(path: &Path, sheet: &str) -> Result<calamine::Range<calamine::Data>> {
    let mut workbook = calamine::open_workbook_auto(path)
        .map_err(|err| Error::Other(format!("workbook: {err}")).with_path(path))?;
    calamine::Reader::worksheet_range(&mut workbook, sheet)
        .map_err(|err| Error::Other(format!("sheet {sheet:?}: {err}")).with_path(path))
}

/// A spreadsheet cell as the text a CSV export would hold.
fn cell_text(cell: &calamine::Data) -> String {
    use calamine::Data;
    match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_owned(),
        Data::DateTime(dt) => excel_serial_to_text(dt.as_f64()),
        Data::Error(err) => format!("#{err:?}"),
    }
}

/// Excel serial dates count days from 1899-12-30 (with Lotus's leap-year bug folded in).
fn excel_serial_to_text(serial: f64) -> String {
    let epoch = chrono::NaiveDate::from_ymd_opt(1899, 12, 30).and_then(|d| d.and_hms_opt(0, 0, 0));
    let Some(epoch) = epoch else {
        return serial.to_string();
    };
    let millis = (serial * 86_400_000.0).round() as i64;
    match epoch.checked_add_signed(chrono::Duration::milliseconds(millis)) {
        Some(dt) if dt.time() == chrono::NaiveTime::MIN => dt.format("%Y-%m-%d").to_string(),
        Some(dt) => dt.format("%Y-%m-%d %H:%M:%S").to_string(),
        None => serial.to_string(),
    }
}

/// Header cells made usable: trimmed, empty ones named `Column N`, duplicates suffixed
/// ` (2)`, and as many names as the widest row has cells.
pub(crate) fn column_names(header: &[String], width: usize) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(width.max(header.len()));
    for i in 0..width.max(header.len()) {
        let given = header.get(i).map(|h| h.trim()).unwrap_or("");
        let base = if given.is_empty() {
            format!("Column {}", i + 1)
        } else {
            given.to_owned()
        };
        let mut name = base.clone();
        let mut n = 2;
        while names.iter().any(|taken| taken.eq_ignore_ascii_case(&name)) {
            name = format!("{base} ({n})");
            n += 1;
        }
        names.push(name);
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_made_unique_and_named() {
        let header: Vec<String> = ["Id", "", "Name", "name", " "].map(String::from).to_vec();
        assert_eq!(
            column_names(&header, 6),
            ["Id", "Column 2", "Name", "name (2)", "Column 5", "Column 6"]
        );
    }

    #[test]
    fn cells_fall_back_to_windows_1252() {
        let mut legacy = 0;
        assert_eq!(decode_cell(b"caf\xe9", &mut legacy), "café");
        assert_eq!(decode_cell("café".as_bytes(), &mut legacy), "café");
        assert_eq!(legacy, 1);
    }

    #[test]
    fn excel_serials_become_dates() {
        assert_eq!(excel_serial_to_text(43982.0), "2020-05-31");
        assert_eq!(excel_serial_to_text(43982.5), "2020-05-31 12:00:00");
    }
}
