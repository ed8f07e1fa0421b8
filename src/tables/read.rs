//! Reading tables as a stream of rows: CSV (any dialect quirk a database export has) and
//! XLSX sheets. Both passes over a table (indexing, then rendering records) read through
//! [`read_table`], so row numbers agree between them.
//!
//! CSV is never held whole: it is parsed as bytes, record by record, and each cell is decoded
//! on its own — UTF-8 when it is valid, else Windows-1252 — so a file that mixes the two (an
//! export that was appended to by two systems) still reads. A UTF-8 BOM is skipped; UTF-16
//! (with a BOM) is decoded whole first, as it cannot be split on bytes.
//!
//! XLSX sheets stream too, through calamine's `Xlsx::worksheet_cells_reader`: a sheet is read
//! twice, cell by cell, first for the bounding box of its non-empty cells, then row by row
//! within that box, so rows come out exactly as calamine's `Range` would give them (leading
//! empty rows and columns trimmed, every row as wide as the box) without the grid (about 32
//! bytes a cell plus a copy of its text) ever being held. What stays is the workbook's shared
//! string table, which the format keeps apart from the sheets and calamine loads whole. A
//! sheet whose rows are stored out of order (no writer we know does this) is read whole, as
//! before, since rows could then not be handed over one at a time.

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
            read_sheet(path, sheet, &mut stats, &mut handle)?;
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

/// Where a sheet's non-empty cells lie, from one streaming pass over it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SheetBounds {
    first_col: u32,
    last_col: u32,
    /// Every non-empty cell comes at or after the row of the one before it.
    rows_in_order: bool,
}

/// Streams one sheet of a workbook row by row into `handle` (see the module doc).
fn read_sheet(
    path: &Path,
    sheet: &str,
    stats: &mut ReadStats,
    handle: &mut impl FnMut(Vec<String>, &mut ReadStats) -> Result<()>,
) -> Result<()> {
    use calamine::{DataType, XlsxError};
    let sheet_error =
        |err: XlsxError| Error::Other(format!("sheet {sheet:?}: {err}")).with_path(path);
    let mut workbook: calamine::Xlsx<_> = calamine::open_workbook(path)
        .map_err(|err: XlsxError| Error::Other(format!("workbook: {err}")).with_path(path))?;

    // Pass 1: the bounding box of the non-empty cells (what `Range` trims the sheet to).
    let mut cells = match workbook.worksheet_cells_reader(sheet) {
        Ok(cells) => cells,
        // A chart sheet: no cells, as `worksheet_range` has it.
        Err(XlsxError::NotAWorksheet(_)) => return Ok(()),
        Err(err) => return Err(sheet_error(err)),
    };
    let mut bounds: Option<SheetBounds> = None;
    let mut last_row = 0u32;
    while let Some(cell) = cells.next_cell().map_err(sheet_error)? {
        if cell.get_value().is_empty() {
            continue;
        }
        let (row, col) = cell.get_position();
        let b = bounds.get_or_insert(SheetBounds {
            first_col: col,
            last_col: col,
            rows_in_order: true,
        });
        b.first_col = b.first_col.min(col);
        b.last_col = b.last_col.max(col);
        b.rows_in_order &= row >= last_row;
        last_row = row;
    }
    drop(cells);
    let Some(bounds) = bounds else {
        return Ok(()); // No cell holds anything: an empty table.
    };
    if !bounds.rows_in_order {
        let range = calamine::Reader::worksheet_range(&mut workbook, sheet).map_err(sheet_error)?;
        for row in range.rows() {
            handle(row.iter().map(cell_text).collect(), stats)?;
        }
        return Ok(());
    }

    // Pass 2: rows, each as wide as the box; rows with no non-empty cell are blank and
    // `handle` would skip them, so they are not made at all.
    let width = (bounds.last_col - bounds.first_col + 1) as usize;
    let mut cells = workbook
        .worksheet_cells_reader(sheet)
        .map_err(sheet_error)?;
    let mut row: Vec<String> = vec![String::new(); width];
    let mut row_number: Option<u32> = None;
    while let Some(cell) = cells.next_cell().map_err(sheet_error)? {
        let value = cell.get_value();
        if value.is_empty() {
            continue;
        }
        let (r, c) = cell.get_position();
        if row_number != Some(r) {
            if row_number.is_some() {
                handle(
                    std::mem::replace(&mut row, vec![String::new(); width]),
                    stats,
                )?;
            }
            row_number = Some(r);
        }
        // Inside the box by construction, unless the file changed between the passes.
        if let Some(slot) = c
            .checked_sub(bounds.first_col)
            .and_then(|i| row.get_mut(i as usize))
        {
            *slot = cell_text(&calamine::Data::from(value.clone()));
        }
    }
    if row_number.is_some() {
        handle(row, stats)?;
    }
    Ok(())
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

    /// A one-sheet workbook (inline strings) with `sheet_data` as its `<sheetData>`.
    fn workbook(dir: &Path, sheet_data: &str) -> PathBuf {
        use std::io::Write;
        let files = [
            (
                "[Content_Types].xml",
                r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#.to_owned(),
            ),
            (
                "_rels/.rels",
                r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_owned(),
            ),
            (
                "xl/workbook.xml",
                r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>"#.to_owned(),
            ),
            (
                "xl/_rels/workbook.xml.rels",
                r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#.to_owned(),
            ),
            (
                "xl/worksheets/sheet1.xml",
                format!(
                    r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{sheet_data}</sheetData></worksheet>"#
                ),
            ),
        ];
        let path = dir.join("book.xlsx");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        for (name, text) in files {
            zip.start_file(name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(text.as_bytes()).unwrap();
        }
        zip.finish().unwrap();
        path
    }

    fn streamed(path: &Path) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        let source = TableSource::Sheet {
            path: path.to_path_buf(),
            sheet: "Data".into(),
        };
        read_table(&source, |_, cells| {
            rows.push(cells);
            Ok(())
        })
        .unwrap();
        rows
    }

    /// What calamine's whole-sheet `Range` gives, blank rows after the first left out as
    /// `read_table` leaves them out.
    fn whole(path: &Path) -> Vec<Vec<String>> {
        let mut workbook = calamine::open_workbook_auto(path).unwrap();
        let range = calamine::Reader::worksheet_range(&mut workbook, "Data").unwrap();
        range
            .rows()
            .map(|row| row.iter().map(cell_text).collect::<Vec<_>>())
            .enumerate()
            .filter(|(i, row)| *i == 0 || row.iter().any(|c| !c.trim().is_empty()))
            .map(|(_, row)| row)
            .collect()
    }

    fn inline(at: &str, text: &str) -> String {
        format!(r#"<c r="{at}" t="inlineStr"><is><t>{text}</t></is></c>"#)
    }

    #[test]
    fn sheets_stream_row_by_row_as_the_whole_range_reads() {
        let dir = tempfile::tempdir().unwrap();
        // Leading empty rows and columns, a gap row, a row with cells out of column order,
        // an empty cell element, cells without a position, a number and a ragged short row.
        let data = [
            r#"<row r="2"><c r="A2"/></row>"#.to_owned(),
            format!(
                r#"<row r="3">{}{}{}</row>"#,
                inline("C3", "Id"),
                inline("D3", "Name"),
                inline("F3", "Note")
            ),
            format!(
                r#"<row r="4"><c r="C4"><v>1</v></c>{}</row>"#,
                inline("D4", "Alpha")
            ),
            format!(
                r#"<row r="6">{}<c r="C6"><v>2.5</v></c></row>"#,
                inline("F6", "late column first")
            ),
            format!(
                r#"<row r="7"><c><v>3</v></c><c>{}</c></row>"#,
                r#"<is><t>no position</t></is>"#
            )
            .replace("<c><is>", r#"<c t="inlineStr"><is>"#),
            format!(r#"<row r="9">{}</row>"#, inline("E9", "short")),
        ]
        .concat();
        let path = workbook(dir.path(), &data);
        let rows = streamed(&path);
        assert_eq!(rows, whole(&path));
        // The cells without a position sit in columns A and B, so the box starts at A.
        assert_eq!(rows[0], ["", "", "Id", "Name", "", "Note"]);
        assert_eq!(rows[2], ["", "", "2.5", "", "", "late column first"]);
        assert_eq!(rows.len(), 5);
    }

    #[test]
    fn sheets_with_rows_out_of_order_and_empty_sheets_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let data = [
            format!(r#"<row r="1">{}</row>"#, inline("A1", "Id")),
            format!(r#"<row r="3">{}</row>"#, inline("A3", "third")),
            format!(r#"<row r="2">{}</row>"#, inline("B2", "second")),
        ]
        .concat();
        let path = workbook(dir.path(), &data);
        assert_eq!(streamed(&path), whole(&path));
        assert_eq!(streamed(&path)[1], ["", "second"]);
        let empty = tempfile::tempdir().unwrap();
        let path = workbook(empty.path(), r#"<row r="1"><c r="A1"/></row>"#);
        assert!(streamed(&path).is_empty());
    }

    #[test]
    fn excel_serials_become_dates() {
        assert_eq!(excel_serial_to_text(43982.0), "2020-05-31");
        assert_eq!(excel_serial_to_text(43982.5), "2020-05-31 12:00:00");
    }
}
