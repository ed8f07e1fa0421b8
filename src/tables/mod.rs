//! **Tables are records.** A leak is mostly database exports (`Documents.csv`, `SARs.csv`, …
//! with one schema at every agency). Each table file stays one [`Document`] (its page is the
//! table's listing), and each row becomes a record page at `<table url><row-id>/`, rendered by
//! type, with its attachments and joined records linked.
//!
//! Two passes, both streaming:
//! 1. [`index`] (after `collect::assign_urls`, before rendering): reads every table once and
//!    keeps per row only its URL slug, title, date and join keys; resolves joins and attachment
//!    references; fixes each table document's title, summary and facts.
//!    What stays per row is small and packed: slug and title in one string buffer per table
//!    (`Strings`, 4-byte ends), the date, a `u32` per stored sort order and per join; about
//!    85 bytes a row for a titled, dated table with one join (`tests/bench/gen-table.py`),
//!    never the cells.
//! 2. [`TableSet::render`] (after the document pages): re-reads each table and renders listing
//!    and record pages in parallel chunks, never holding a table's cells.
//!
//! Invariants: row `n` is the same row in both passes (both read through
//! [`read::read_table`]); every page is written through [`Renderer`] (link rewriting, minify,
//! manifest); output order never depends on hash-map order or thread timing.

mod pages;
mod profile;
mod read;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;

use crate::collect::Agency;
use crate::dates::DocDate;
use crate::discover::{AgencyFolder, SourceFile};
use crate::document::{Body, Document};
use crate::error::{Error, Result, ResultExt};
use crate::extract::{ExtractContext, Extracted, Extractor, escape_html};
use crate::slug::slugify;

pub use pages::{RecordSink, SearchRecord, TableRender, html_text};
pub use profile::{
    AGENCY_PROFILE_FILE, AgencySource, FieldType, Join, PROFILE_FILE, Profile, TableProfile,
};
use read::TableSource;

/// Extensions read as tables.
const TABLE_EXTENSIONS: &[&str] = &["csv", "xlsx", "xlsm"];
/// Row slugs that the table's own listing pages use.
const RESERVED_ROW_SLUGS: &[&str] = &["page", "oldest", "title", "newest"];
/// Attachments of these types show inline on record pages (`image` fields).
const INLINE_IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "gif", "webp", "bmp"];
/// Longest title kept in memory per row.
const MAX_ROW_TITLE: usize = 160;
/// Missing attachments and joins named one by one in a table's warnings; the rest are counted.
const MAX_NAMED_PROBLEMS: usize = 10;
/// Why a table with more than 4 GB of row ids or titles stops being read (see [`Strings`]).
const TABLE_TOO_LARGE: &str = "more row text than one table can index (4 GB)";
/// Records listed on an attachment's page (the total is always given).
pub const MAX_REFERENCES_SHOWN: usize = 100;

/// The `table` format: CSV files and XLSX workbooks. Extraction only reads the head of the
/// file (column names, sheet names); rows are read later, streaming, by this module.
pub(crate) struct TableExtractor;

impl Extractor for TableExtractor {
    fn name(&self) -> &'static str {
        "table"
    }

    fn handles(&self, source: &SourceFile) -> bool {
        TABLE_EXTENSIONS.contains(&source.extension.as_str())
    }

    fn streams(&self) -> bool {
        true
    }

    fn extract(&self, ctx: &ExtractContext<'_>) -> Result<Extracted> {
        let mut extracted = Extracted::default();
        let name = ctx.source.file_name();
        let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
        extracted.meta.title = Some(stem.to_owned());
        if ctx.source.extension == "csv" {
            let head = ctx.bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(ctx.bytes);
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(head);
            let mut header = csv::ByteRecord::new();
            if reader.read_byte_record(&mut header).unwrap_or(false) {
                extracted.text = header
                    .iter()
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ");
            }
            extracted.facts.push(("Format".into(), "CSV".into()));
        } else {
            let sheets = read::sheet_names(&ctx.source.abs_path)?;
            extracted.text = sheets.join(" ");
            extracted
                .facts
                .push(("Format".into(), "XLSX workbook".into()));
        }
        Ok(extracted)
    }
}

/// One column of a table.
#[derive(Debug, Clone)]
struct Column {
    name: String,
    kind: FieldType,
    /// The profile gave a type (else cells are text that may name a file).
    typed: bool,
    /// Shown on record pages and indexed.
    shown: bool,
    redacted: bool,
}

/// Strings packed end to end in one buffer. A table's per-row strings live here rather than
/// as one allocation each: at 500,000 rows the allocator's per-string overhead (16 bytes of
/// pointer and length plus 16 or more of heap bookkeeping) would outweigh the text itself.
/// Ends are `u32`, 4 bytes a string: one table's titles (160 characters at most) or slugs
/// (about 100 bytes) reach 4 GB only past millions of rows, and [`Strings::push`] refuses
/// rather than wraps.
#[derive(Debug, Default)]
struct Strings {
    text: String,
    /// `ends[i]` is where string `i` ends in `text`; it starts where `i - 1` ends.
    ends: Vec<u32>,
}

/// [`Strings`] is full (4 GB of text).
#[derive(Debug)]
struct StringsFull;

impl Strings {
    fn push(&mut self, value: &str) -> std::result::Result<(), StringsFull> {
        let end = u32::try_from(self.text.len() + value.len()).map_err(|_| StringsFull)?;
        self.text.push_str(value);
        self.ends.push(end);
        Ok(())
    }

    fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).map(|i| self.get(i))
    }

    fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
        self.ends.shrink_to_fit();
    }
}

/// What each row keeps in memory between the passes: its URL slug, title and date, column by
/// column (the cells are re-read from the file when the record page renders).
#[derive(Debug, Default)]
struct Rows {
    slugs: Strings,
    titles: Strings,
    dates: Vec<Option<DocDate>>,
}

impl Rows {
    fn len(&self) -> usize {
        self.dates.len()
    }

    fn is_empty(&self) -> bool {
        self.dates.is_empty()
    }

    fn slug(&self, r: usize) -> &str {
        self.slugs.get(r)
    }

    fn title(&self, r: usize) -> &str {
        self.titles.get(r)
    }

    fn date(&self, r: usize) -> Option<DocDate> {
        self.dates[r]
    }

    fn push(
        &mut self,
        slug: &str,
        title: &str,
        date: Option<DocDate>,
    ) -> std::result::Result<(), StringsFull> {
        // Both or neither, so row `n` stays the same row in every column.
        if self.slugs.text.len() + slug.len() > u32::MAX as usize
            || self.titles.text.len() + title.len() > u32::MAX as usize
        {
            return Err(StringsFull);
        }
        self.slugs.push(slug)?;
        self.titles.push(title)?;
        self.dates.push(date);
        Ok(())
    }

    fn shrink_to_fit(&mut self) {
        self.slugs.shrink_to_fit();
        self.titles.shrink_to_fit();
        self.dates.shrink_to_fit();
    }
}

/// The slugs a table has given out, for making each row's unique. Holds a 64-bit hash and a
/// row number per slug (the slug itself is in [`Rows`]), about a third of what a set of
/// strings costs; a hash that two slugs share is told apart by comparing the slugs.
#[derive(Default)]
struct SlugSet {
    first: HashMap<u64, u32>,
    /// Further rows whose slugs share a hash with `first`'s (in practice never).
    more: HashMap<u64, Vec<u32>>,
}

impl SlugSet {
    fn hash(slug: &str) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        slug.hash(&mut hasher);
        hasher.finish()
    }

    fn contains(&self, rows: &Rows, slug: &str) -> bool {
        let hash = Self::hash(slug);
        let Some(&row) = self.first.get(&hash) else {
            return false;
        };
        rows.slug(row as usize) == slug
            || self
                .more
                .get(&hash)
                .is_some_and(|others| others.iter().any(|&r| rows.slug(r as usize) == slug))
    }

    fn insert(&mut self, slug: &str, row: u32) {
        let hash = Self::hash(slug);
        match self.first.entry(hash) {
            std::collections::hash_map::Entry::Occupied(_) => {
                self.more.entry(hash).or_default().push(row);
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(row);
            }
        }
    }
}

/// A sort order of a table's listing.
#[derive(Debug)]
struct Order {
    /// Folder under the table's listing (`""`, `oldest/`, `title/`).
    folder: &'static str,
    label: &'static str,
    /// Row numbers in this order; `None` for the table's own order.
    rows: Option<Vec<u32>>,
}

/// One table (a CSV file, or one sheet of a workbook).
#[derive(Debug)]
struct Table {
    doc_id: usize,
    agency: String,
    /// The table's name: file stem or sheet name (what the profile and joins use).
    name: String,
    display: String,
    /// Site path of the listing, `agency/documents/` (no leading `/`).
    base: String,
    /// Sheet name, for workbooks.
    sheet: Option<String>,
    source: TableSource,
    hidden: bool,
    columns: Vec<Column>,
    id_col: usize,
    title_col: Option<usize>,
    date_col: Option<usize>,
    summary_col: Option<usize>,
    rows: Rows,
    /// The listing's sort orders, the default first.
    orders: Vec<Order>,
    /// Columns whose values joins need, with one value per row (dropped once joins resolve).
    keys: BTreeMap<usize, Strings>,
    encoding: &'static str,
    warnings: Vec<String>,
}

/// A join, resolved to row numbers.
#[derive(Debug)]
struct Link {
    from: usize,
    from_col: usize,
    to: usize,
    label: String,
    /// The label on a target record after a count of its source records: plural, and for a
    /// count of one.
    reverse_label: String,
    reverse_label_one: String,
    /// Per source row: the target row, or `u32::MAX`.
    forward: Vec<u32>,
    /// Per target row `r`: source rows `reverse_rows[offsets[r]..offsets[r + 1]]`, ascending.
    offsets: Vec<u32>,
    reverse_rows: Vec<u32>,
}

/// A record that links to a document, for that document's page.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct RecordLink {
    /// Site path of the record page.
    pub url: String,
    /// The record's title.
    pub title: String,
    /// The table's display name.
    pub table: String,
}

/// A table, for its agency's index page.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct TableLink {
    /// Display name.
    pub name: String,
    /// Site path of its listing.
    pub url: String,
    /// Rows (records).
    pub count: usize,
}

/// A table as the search index numbers its records (see [`TableSet::record_tables`]).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct RecordTable<'a> {
    /// Agency slug.
    pub agency: &'a str,
    /// Display name: its records' kind.
    pub kind: &'a str,
    /// Site path of its listing; unique, so it orders tables that share a kind.
    pub url: &'a str,
    /// Records it publishes: one per row, none when hidden.
    pub records: usize,
}

/// Every table of the archive, indexed.
#[derive(Debug, Default)]
pub struct TableSet {
    tables: Vec<Table>,
    links: Vec<Link>,
    /// Document id → tables it holds (one for CSV, one per shown sheet for workbooks).
    by_doc: BTreeMap<usize, Vec<usize>>,
    /// Document id → (table, row) of every record that references the document.
    references: BTreeMap<usize, Vec<(u32, u32)>>,
    /// Agency slug → (name, description) from its `Company`-like table.
    agency_info: BTreeMap<String, (Option<String>, Option<String>)>,
    /// Attachment lookup, for the render pass.
    files: Option<Files>,
    /// Referenced document id → (page, published original, whether it shows inline as an image).
    file_urls: HashMap<usize, (String, Option<String>, bool)>,
    /// SHA-256 of every agency's effective profile (see [`TableSet::profile_fingerprint`]).
    profile_fingerprint: String,
}

/// Attachment lookup: `agency/lower-case path inside the agency` → document id.
#[derive(Debug, Default)]
struct Files {
    by_path: HashMap<String, usize>,
}

impl Files {
    fn new(docs: &[Document]) -> Files {
        let by_path = docs
            .iter()
            .map(|d| {
                (
                    format!(
                        "{}/{}",
                        d.agency(),
                        d.source.path_in_agency().to_lowercase()
                    ),
                    d.id,
                )
            })
            .collect();
        Files { by_path }
    }

    /// The document a cell names: `DDF\Bulletin 12.pdf` is `files/DDF/Bulletin 12.pdf` under
    /// the agency (or the same path without `files/`), any case.
    fn resolve(&self, agency: &str, cell: &str) -> Option<usize> {
        let path = cell.trim().replace('\\', "/").to_lowercase();
        let path = path.trim_start_matches("./").trim_start_matches('/');
        if path.is_empty() {
            return None;
        }
        let mut candidates = vec![path.to_owned(), format!("files/{path}")];
        if let Some(pos) = path.rfind("/files/") {
            candidates.push(path[pos + 1..].to_owned());
        }
        candidates
            .iter()
            .find_map(|c| self.by_path.get(&format!("{agency}/{c}")).copied())
    }
}

/// Whether a cell looks like a file name (`x.pdf`, `DDF\y.docx`), for untyped columns.
fn looks_like_file(cell: &str) -> bool {
    let cell = cell.trim();
    cell.len() <= 260
        && !cell.contains('\n')
        && cell.rsplit_once('.').is_some_and(|(stem, ext)| {
            !stem.is_empty()
                && (1..=5).contains(&ext.len())
                && ext.chars().all(|c| c.is_ascii_alphanumeric())
                && ext.chars().any(|c| c.is_ascii_alphabetic())
        })
}

/// Loads the archive profile and each agency's override; an invalid profile fails the build
/// with an error naming the file and the key.
fn load_profiles(
    root: &Path,
    content_dir: &Path,
    agencies: &[AgencyFolder],
) -> Result<BTreeMap<String, Profile>> {
    let read = |path: &Path| -> Result<Option<Profile>> {
        match std::fs::read_to_string(path) {
            Ok(text) => Profile::parse(&text).with_path(path).map(Some),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(Error::from(err).with_path(path)),
        }
    };
    let archive = read(&root.join(PROFILE_FILE))?.unwrap_or_default();
    let mut by_agency = BTreeMap::new();
    for agency in agencies {
        let path = content_dir.join(&agency.folder).join(AGENCY_PROFILE_FILE);
        let profile = match read(&path)? {
            Some(over) => archive.merged(&over),
            None => archive.clone(),
        };
        by_agency.insert(agency.slug.clone(), profile);
    }
    Ok(by_agency)
}

/// SHA-256 of the effective profiles, by agency (see [`TableSet::profile_fingerprint`]).
fn profile_fingerprint(profiles: &BTreeMap<String, Profile>) -> String {
    crate::output::sha256_hex(format!("{profiles:?}").as_bytes())
}

/// One table as scanned: the table, the documents its rows reference (document id, row),
/// and the agency name and description it supplies, if any.
type Scanned = (
    Table,
    Vec<(usize, u32)>,
    Option<(Option<String>, Option<String>)>,
);

/// Pass 1: reads every table document (`kind == "table"`) of `docs`, streaming, and indexes
/// its rows. Fixes each table document's title (the profile's display name), summary, facts
/// and warnings; workbooks get a body listing their sheets.
pub fn index(
    root: &Path,
    content_dir: &Path,
    agencies: &[AgencyFolder],
    docs: &mut [Document],
    bodies: &mut [Body],
) -> Result<TableSet> {
    let profiles = load_profiles(root, content_dir, agencies)?;
    let empty = Profile::default();

    // Plan: one entry per table (CSV file or sheet), in document order.
    let mut planned: Vec<(usize, TableSource, String, Option<String>, String)> = Vec::new();
    for doc in docs.iter_mut().filter(|d| d.kind == "table") {
        if doc.source.extension == "csv" {
            let name = doc.title.clone();
            planned.push((
                doc.id,
                TableSource::Csv(doc.source.abs_path.clone()),
                name,
                None,
                doc.url.clone(),
            ));
            continue;
        }
        match read::sheet_names(&doc.source.abs_path) {
            Ok(sheets) => {
                let mut used = HashSet::new();
                for sheet in sheets {
                    let mut slug = slugify(&sheet);
                    let base = slug.clone();
                    let mut n = 2;
                    while !used.insert(slug.clone()) {
                        slug = format!("{base}-{n}");
                        n += 1;
                    }
                    planned.push((
                        doc.id,
                        TableSource::Sheet {
                            path: doc.source.abs_path.clone(),
                            sheet: sheet.clone(),
                        },
                        sheet.clone(),
                        Some(sheet),
                        format!("{}{slug}/", doc.url),
                    ));
                }
            }
            Err(err) => doc.warnings.push(format!("workbook not read: {err}")),
        }
    }

    // Only cells of tables name files: without a table, no map of every document's path
    // (50,000 of them took an eighth of a rebuild's serial collect stage).
    let files = if planned.is_empty() {
        Files::default()
    } else {
        Files::new(docs)
    };
    // Reading is I/O and parsing bound, and tables are independent: read them in parallel.
    let docs_ref: &[Document] = docs;
    let scanned: Vec<Scanned> = planned
        .into_par_iter()
        .map(|(doc_id, source, name, sheet, base)| {
            let doc = &docs_ref[doc_id];
            let profile = profiles.get(doc.agency()).unwrap_or(&empty);
            scan_table(doc, source, name, sheet, base, profile, &files)
        })
        .collect();

    let mut set = TableSet::default();
    for (index, (table, refs, info)) in scanned.into_iter().enumerate() {
        for (doc_id, row) in refs {
            set.references
                .entry(doc_id)
                .or_default()
                .push((index as u32, row));
        }
        if let Some(info) = info {
            set.agency_info.entry(table.agency.clone()).or_insert(info);
        }
        set.by_doc.entry(table.doc_id).or_default().push(index);
        set.tables.push(table);
    }
    set.resolve_joins(&profiles);
    set.describe_documents(docs, bodies);
    for &doc_id in set.references.keys() {
        let doc = &docs[doc_id];
        let is_image = INLINE_IMAGE_EXTENSIONS.contains(&doc.source.extension.as_str());
        set.file_urls.insert(
            doc_id,
            (doc.url.clone(), doc.original_url.clone(), is_image),
        );
    }
    set.files = Some(files);
    // The profiles as parsed and merged, in agency order: what record pages and record text
    // depend on beyond the table files themselves.
    set.profile_fingerprint = profile_fingerprint(&profiles);
    Ok(set)
}

/// Reads one table and indexes its rows. Problems become the table's warnings.
#[allow(clippy::type_complexity)]
fn scan_table(
    doc: &Document,
    source: TableSource,
    name: String,
    sheet: Option<String>,
    base: String,
    profile: &Profile,
    files: &Files,
) -> (
    Table,
    Vec<(usize, u32)>,
    Option<(Option<String>, Option<String>)>,
) {
    let settings = profile.table(&name).cloned().unwrap_or_default();
    let agency_source = profile
        .agency
        .as_ref()
        .filter(|a| a.table.eq_ignore_ascii_case(&name));
    let display = settings.name.clone().unwrap_or_else(|| name.clone());
    let key_columns: Vec<String> = profile
        .joins
        .iter()
        .flat_map(|j| {
            let mut cols = Vec::new();
            if j.from_table.eq_ignore_ascii_case(&name) {
                cols.push(j.from_column.clone());
            }
            if j.to_table.eq_ignore_ascii_case(&name) {
                cols.push(j.to_column.clone());
            }
            cols
        })
        .collect();
    let mut table = Table {
        doc_id: doc.id,
        agency: doc.agency().to_owned(),
        name,
        display,
        base,
        sheet,
        source,
        hidden: settings.hidden.unwrap_or(false),
        columns: Vec::new(),
        id_col: 0,
        title_col: None,
        date_col: None,
        summary_col: None,
        rows: Rows::default(),
        orders: Vec::new(),
        keys: BTreeMap::new(),
        encoding: "UTF-8",
        warnings: Vec::new(),
    };
    let mut header = Vec::new();
    let mut refs = Vec::new();
    let mut info = None;
    let mut taken = SlugSet::default();
    let mut missing = Vec::new();
    let mut missing_count = 0usize;

    let source = table.source.clone();
    let result = read::read_table(&source, |line, cells| {
        if line == read::Line::Header {
            header = cells;
            table.columns = columns_for(&header, header.len(), &settings);
            let find = |wanted: &Option<String>, key: &str, warnings: &mut Vec<String>| {
                let wanted = wanted.as_deref()?;
                let found = header
                    .iter()
                    .position(|h| h.trim().eq_ignore_ascii_case(wanted.trim()));
                if found.is_none() {
                    warnings.push(format!(
                        "table profile: {key} column {wanted:?} is not in the header"
                    ));
                }
                found
            };
            let w = &mut table.warnings;
            table.id_col = find(&settings.id, "id", w).unwrap_or(0);
            table.title_col = find(&settings.title, "title", w);
            table.date_col = find(&settings.date, "date", w);
            table.summary_col = find(&settings.summary, "summary", w);
            for column in &key_columns {
                match header
                    .iter()
                    .position(|h| h.trim().eq_ignore_ascii_case(column))
                {
                    Some(i) => {
                        table.keys.insert(i, Strings::default());
                    }
                    None => table
                        .warnings
                        .push(format!("join column {column:?} is not in the header")),
                }
            }
            return Ok(());
        }
        {
            let n = table.rows.len();
            let cell = |i: usize| cells.get(i).map(|c| c.trim()).unwrap_or("");
            // URL slug from the id, unique in the table and clear of the listing's folders.
            let id = cell(table.id_col);
            let mut base = if id.is_empty() {
                format!("row-{}", n + 1)
            } else {
                slugify(id)
            };
            if RESERVED_ROW_SLUGS.contains(&base.as_str()) {
                base.push_str("-record");
            }
            let mut slug = base.clone();
            let mut k = 2;
            while taken.contains(&table.rows, &slug) {
                slug = format!("{base}-{k}");
                k += 1;
            }
            taken.insert(&slug, n as u32);
            let title = table
                .title_col
                .map(|i| fold_cell(cell(i)))
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| {
                    if id.is_empty() {
                        format!("{} row {}", table.display, n + 1)
                    } else {
                        format!("{} {}", table.display, fold_cell(id))
                    }
                });
            let title = truncate_chars(&title, MAX_ROW_TITLE);
            let date = table.date_col.and_then(|i| DocDate::parse(cell(i)));
            // Everything the row keeps fits, or the read stops before any of it is kept, so
            // row `n` stays the same row in every column (and in the references below).
            let fits = |values: &Strings, value: &str| {
                values.text.len() + value.len() <= u32::MAX as usize
            };
            if !table
                .keys
                .iter()
                .all(|(col, values)| fits(values, cell(*col)))
            {
                return Err(Error::Other(TABLE_TOO_LARGE.into()));
            }
            table
                .rows
                .push(&slug, &title, date)
                .map_err(|_| Error::Other(TABLE_TOO_LARGE.into()))?;
            for (col, values) in table.keys.iter_mut() {
                values
                    .push(cell(*col))
                    .map_err(|_| Error::Other(TABLE_TOO_LARGE.into()))?;
            }
            // Attachment references.
            for (i, value) in cells.iter().enumerate() {
                let value = value.trim();
                if value.is_empty() {
                    continue;
                }
                let column = table.columns.get(i);
                let (typed_file, untyped) = match column {
                    Some(c) if !c.shown || c.redacted => continue,
                    Some(c) if c.typed => (
                        matches!(c.kind, FieldType::Attachment | FieldType::Image),
                        false,
                    ),
                    _ => (false, true),
                };
                if !(typed_file || untyped && looks_like_file(value)) {
                    continue;
                }
                match files.resolve(&table.agency, value) {
                    Some(doc_id) => refs.push((doc_id, n as u32)),
                    None if typed_file || value.contains('\\') => {
                        missing_count += 1;
                        if missing.len() < MAX_NAMED_PROBLEMS {
                            let column = column.map_or("?", |c| c.name.as_str());
                            missing.push(format!("row {slug} {column}: {value:?}"));
                        }
                    }
                    None => {}
                }
            }
            if n == 0
                && let Some(source) = agency_source
            {
                let pick = |col: &Option<String>| {
                    let col = col.as_deref()?;
                    let i = header
                        .iter()
                        .position(|h| h.trim().eq_ignore_ascii_case(col))?;
                    Some(fold_cell(cell(i))).filter(|v| !v.is_empty())
                };
                info = Some((pick(&source.name), pick(&source.description)));
            }
            Ok(())
        }
    });
    match result {
        Ok(stats) => {
            table.encoding = stats.encoding;
            if stats.max_width > header.len() {
                table.warnings.push(format!(
                    "ragged rows: some have {} cells but the header names {}; the extra cells are shown as {}",
                    stats.max_width,
                    header.len(),
                    if stats.max_width - header.len() == 1 { "one more column".to_owned() } else { format!("{} more columns", stats.max_width - header.len()) }
                ));
            }
            table.columns = columns_for(&header, stats.max_width, &settings);
            if stats.legacy_cells > 0 {
                table.warnings.push(format!(
                    "{} cells were not UTF-8: decoded as windows-1252",
                    stats.legacy_cells
                ));
            }
        }
        Err(err) => table.warnings.push(format!(
            "table read only up to row {}: {err}",
            table.rows.len()
        )),
    }
    drop(taken);
    table.rows.shrink_to_fit();
    for values in table.keys.values_mut() {
        values.shrink_to_fit();
    }
    table.orders = orders(&table);
    if missing_count > 0 {
        let more = missing_count.saturating_sub(missing.len());
        table.warnings.push(format!(
            "{missing_count} attachment {} no file in the archive: {}{}",
            if missing_count == 1 {
                "reference names"
            } else {
                "references name"
            },
            missing.join("; "),
            if more > 0 {
                format!("; and {more} more")
            } else {
                String::new()
            }
        ));
    }
    (table, refs, info)
}

/// The listing's orders: newest and oldest first when the table has a date column (undated
/// rows last), else the table's own order; and by title when it has a title column. Ties keep
/// table order, so listings are stable.
fn orders(table: &Table) -> Vec<Order> {
    let rows = &table.rows;
    let n = rows.len() as u32;
    let mut orders = Vec::new();
    if table.date_col.is_some() {
        let by_date = |newest: bool| {
            let mut ids: Vec<u32> = (0..n).collect();
            ids.sort_by(|&a, &b| {
                match (rows.date(a as usize), rows.date(b as usize)) {
                    (Some(x), Some(y)) if newest => y.cmp(&x),
                    (Some(x), Some(y)) => x.cmp(&y),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                }
                .then(a.cmp(&b))
            });
            ids
        };
        orders.push(Order {
            folder: "",
            label: "Newest",
            rows: Some(by_date(true)),
        });
        orders.push(Order {
            folder: "oldest/",
            label: "Oldest",
            rows: Some(by_date(false)),
        });
    } else {
        orders.push(Order {
            folder: "",
            label: "Table order",
            rows: None,
        });
    }
    if table.title_col.is_some() {
        // Lower-cased on the fly: a lower-cased copy of every title would double the titles'
        // memory for the length of the sort.
        let folded = |r: u32| rows.title(r as usize).chars().flat_map(char::to_lowercase);
        let mut ids: Vec<u32> = (0..n).collect();
        ids.sort_by(|&a, &b| folded(a).cmp(folded(b)).then(a.cmp(&b)));
        orders.push(Order {
            folder: "title/",
            label: "Title",
            rows: Some(ids),
        });
    }
    orders
}

/// Column settings for a header, `width` columns wide.
fn columns_for(header: &[String], width: usize, settings: &TableProfile) -> Vec<Column> {
    let names = read::column_names(header, width);
    let listed = |list: &Option<Vec<String>>, name: &str| {
        list.as_ref()
            .is_some_and(|l| l.iter().any(|c| c.trim().eq_ignore_ascii_case(name)))
    };
    names
        .into_iter()
        .map(|name| {
            let typed = settings
                .fields
                .iter()
                .find(|(c, _)| c.trim().eq_ignore_ascii_case(&name))
                .map(|(_, kind)| *kind);
            let dropped = listed(&settings.drop, &name);
            Column {
                kind: typed.unwrap_or(FieldType::Text),
                typed: typed.is_some(),
                shown: !dropped && typed != Some(FieldType::Hidden),
                redacted: listed(&settings.redact, &name),
                name,
            }
        })
        .collect()
}

/// Literal `\n`, `\r\n` and `\t` escapes (as some exports write them) become real ones.
fn unescape_cell(cell: &str) -> std::borrow::Cow<'_, str> {
    if !cell.contains('\\') {
        return std::borrow::Cow::Borrowed(cell);
    }
    std::borrow::Cow::Owned(
        cell.replace("\\r\\n", "\n")
            .replace("\\n", "\n")
            .replace("\\t", "\t"),
    )
}

/// A cell as one line of text: escapes unescaped, whitespace folded.
fn fold_cell(cell: &str) -> String {
    unescape_cell(cell)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

impl TableSet {
    /// Finds the table an agency's join names.
    fn find(&self, agency: &str, name: &str) -> Option<usize> {
        self.tables
            .iter()
            .position(|t| t.agency == agency && t.name.eq_ignore_ascii_case(name))
    }

    fn resolve_joins(&mut self, profiles: &BTreeMap<String, Profile>) {
        let mut links = Vec::new();
        let mut warnings: Vec<(usize, String)> = Vec::new();
        for (agency, profile) in profiles {
            for join in &profile.joins {
                let (Some(from), Some(to)) = (
                    self.find(agency, &join.from_table),
                    self.find(agency, &join.to_table),
                ) else {
                    continue; // This agency lacks one of the tables: nothing to join.
                };
                let col = |t: usize, name: &str| {
                    self.tables[t]
                        .columns
                        .iter()
                        .position(|c| c.name.eq_ignore_ascii_case(name))
                        .filter(|i| self.tables[t].keys.contains_key(i))
                };
                let (Some(from_col), Some(to_col)) =
                    (col(from, &join.from_column), col(to, &join.to_column))
                else {
                    continue; // Already warned about when the header was read.
                };
                let target = &self.tables[to];
                let mut by_key: HashMap<&str, u32> = HashMap::new();
                for (row, key) in target.keys[&to_col].iter().enumerate() {
                    if !key.is_empty() {
                        by_key.entry(key).or_insert(row as u32);
                    }
                }
                let mut forward = Vec::with_capacity(self.tables[from].rows.len());
                let mut unmatched = 0usize;
                let mut named = Vec::new();
                for (row, key) in self.tables[from].keys[&from_col].iter().enumerate() {
                    match by_key.get(key) {
                        Some(&target_row) => forward.push(target_row),
                        None => {
                            forward.push(u32::MAX);
                            if !key.is_empty() {
                                unmatched += 1;
                                if named.len() < MAX_NAMED_PROBLEMS {
                                    named.push(format!(
                                        "row {} {}={key:?}",
                                        self.tables[from].rows.slug(row),
                                        join.from_column
                                    ));
                                }
                            }
                        }
                    }
                }
                if unmatched > 0 {
                    warnings.push((
                        from,
                        format!(
                            "{unmatched} {} to no {} record: {}",
                            if unmatched == 1 {
                                "row joins"
                            } else {
                                "rows join"
                            },
                            target.name,
                            named.join("; ")
                        ),
                    ));
                }
                let mut pairs: Vec<(u32, u32)> = forward
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| **t != u32::MAX)
                    .map(|(s, t)| (*t, s as u32))
                    .collect();
                pairs.sort_unstable();
                let mut offsets = vec![0u32; target.rows.len() + 1];
                for (t, _) in &pairs {
                    offsets[*t as usize + 1] += 1;
                }
                for i in 1..offsets.len() {
                    offsets[i] += offsets[i - 1];
                }
                links.push(Link {
                    from,
                    from_col,
                    to,
                    label: join
                        .label
                        .clone()
                        .unwrap_or_else(|| self.tables[to].display.clone()),
                    reverse_label_one: join.reverse_label_one.clone().unwrap_or_else(|| {
                        profile::singular_label(
                            join.reverse_label
                                .as_deref()
                                .unwrap_or(&self.tables[from].display),
                        )
                    }),
                    reverse_label: join
                        .reverse_label
                        .clone()
                        .unwrap_or_else(|| self.tables[from].display.clone()),
                    forward,
                    offsets,
                    reverse_rows: pairs.into_iter().map(|(_, s)| s).collect(),
                });
            }
        }
        for (table, warning) in warnings {
            self.tables[table].warnings.push(warning);
        }
        // Join keys were only needed to resolve the joins.
        for table in &mut self.tables {
            table.keys.clear();
        }
        self.links = links;
    }

    /// Gives each table document its display name, summary, facts and warnings.
    fn describe_documents(&self, docs: &mut [Document], bodies: &mut [Body]) {
        for (&doc_id, tables) in &self.by_doc {
            let doc = &mut docs[doc_id];
            let is_csv = doc.source.extension == "csv";
            for &t in tables {
                let table = &self.tables[t];
                for warning in &table.warnings {
                    doc.warnings.push(match &table.sheet {
                        Some(sheet) => format!("sheet {sheet}: {warning}"),
                        None => warning.clone(),
                    });
                }
            }
            if is_csv {
                let table = &self.tables[tables[0]];
                doc.title = table.display.clone();
                doc.summary = table_summary(table);
                doc.facts
                    .push(("Records".into(), table.rows.len().to_string()));
                doc.facts
                    .push(("Columns".into(), table.columns.len().to_string()));
                doc.facts.push(("Encoding".into(), table.encoding.into()));
                if table.hidden {
                    doc.facts.push((
                        "Records shown".into(),
                        "none (hidden by the table profile)".into(),
                    ));
                }
            } else {
                let shown: Vec<&Table> = tables
                    .iter()
                    .map(|&t| &self.tables[t])
                    .filter(|t| !t.hidden)
                    .collect();
                doc.facts.push(("Sheets".into(), tables.len().to_string()));
                doc.summary = format!(
                    "Workbook with {} sheet{}: {}",
                    tables.len(),
                    if tables.len() == 1 { "" } else { "s" },
                    tables
                        .iter()
                        .map(|&t| format!(
                            "{} ({} records)",
                            self.tables[t].display,
                            self.tables[t].rows.len()
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                let mut html = String::from("<ul class=\"sheets\">");
                for table in shown {
                    html.push_str(&format!(
                        "<li><a href=\"/{}\">{}</a> <span class=\"count\">{} record{}</span></li>",
                        escape_html(&table.base),
                        escape_html(&table.display),
                        table.rows.len(),
                        if table.rows.len() == 1 { "" } else { "s" }
                    ));
                }
                html.push_str("</ul>");
                bodies[doc_id].html = html;
            }
        }
    }

    /// Fills in agency names and descriptions from each agency's `Company`-like table, where
    /// the profile names one and `_agency.yaml` does not say.
    pub fn apply_agency_info(&self, agencies: &mut [Agency], folders: &[AgencyFolder]) {
        for agency in agencies.iter_mut() {
            let Some((name, description)) = self.agency_info.get(&agency.slug) else {
                continue;
            };
            let meta = folders
                .iter()
                .find(|f| f.slug == agency.slug)
                .map(|f| &f.meta);
            if let Some(name) = name
                && meta.is_none_or(|m| m.name.is_none())
            {
                agency.name = name.clone();
            }
            if let Some(description) = description
                && meta.is_none_or(|m| m.description.is_none())
            {
                agency.description = Some(description.clone());
            }
        }
    }

    /// Whether the document's page is a table listing (rendered by [`TableSet::render_document`]).
    pub fn owns(&self, doc_id: usize) -> bool {
        self.by_doc.get(&doc_id).is_some_and(|tables| {
            tables.len() == 1
                && self.tables[tables[0]].sheet.is_none()
                && !self.tables[tables[0]].hidden
        })
    }

    /// For each document that records reference: those records, in table and row order (at
    /// most [`MAX_REFERENCES_SHOWN`]), and the total count.
    pub fn referenced_by(&self) -> BTreeMap<usize, (Vec<RecordLink>, usize)> {
        self.references
            .iter()
            .map(|(&doc_id, refs)| {
                // Records of hidden tables have no page: they are neither linked nor counted.
                let mut refs: Vec<(u32, u32)> = refs
                    .iter()
                    .copied()
                    .filter(|(t, _)| !self.tables[*t as usize].hidden)
                    .collect();
                refs.sort_unstable();
                refs.dedup();
                let total = refs.len();
                let shown = refs
                    .iter()
                    .take(MAX_REFERENCES_SHOWN)
                    .map(|&(t, r)| {
                        let table = &self.tables[t as usize];
                        RecordLink {
                            url: format!("/{}{}/", table.base, table.rows.slug(r as usize)),
                            title: table.rows.title(r as usize).to_owned(),
                            table: table.display.clone(),
                        }
                    })
                    .collect();
                (doc_id, (shown, total))
            })
            .collect()
    }

    /// Each agency's shown tables with their record counts, by display name.
    pub fn agency_tables(&self) -> BTreeMap<String, Vec<TableLink>> {
        let mut by_agency: BTreeMap<String, Vec<TableLink>> = BTreeMap::new();
        for table in self.tables.iter().filter(|t| !t.hidden) {
            by_agency
                .entry(table.agency.clone())
                .or_default()
                .push(TableLink {
                    name: table.display.clone(),
                    url: format!("/{}", table.base),
                    count: table.rows.len(),
                });
        }
        for tables in by_agency.values_mut() {
            tables.sort_by(|a, b| {
                a.name
                    .to_lowercase()
                    .cmp(&b.name.to_lowercase())
                    .then_with(|| a.url.cmp(&b.url))
            });
        }
        by_agency
    }

    /// A hash of the table profiles in effect (`tables.yaml` and every `_tables.yaml`, parsed
    /// and merged). Record pages and record text depend on them, yet neither file is a
    /// document, so anything keyed on the documents (the search index folder) must take this
    /// too, or a profile edit that hides or redacts a column keeps the old key.
    pub fn profile_fingerprint(&self) -> &str {
        &self.profile_fingerprint
    }

    /// Every table, by the index its [`SearchRecord`]s carry as `table`, with the number of
    /// records its render pass hands to the search index: rows `0..records`, each once.
    pub fn record_tables(&self) -> Vec<RecordTable<'_>> {
        self.tables
            .iter()
            .map(|table| RecordTable {
                agency: &table.agency,
                kind: &table.display,
                url: &table.base,
                records: if table.hidden { 0 } else { table.rows.len() },
            })
            .collect()
    }

    /// Rows indexed over all tables.
    pub fn record_count(&self) -> usize {
        self.tables
            .iter()
            .filter(|t| !t.hidden)
            .map(|t| t.rows.len())
            .sum()
    }
}

/// `1,234 records: DocumentID, Title, …`
fn table_summary(table: &Table) -> String {
    let columns: Vec<&str> = table
        .columns
        .iter()
        .filter(|c| c.shown)
        .map(|c| c.name.as_str())
        .collect();
    let n = table.rows.len();
    if n == 0 {
        format!("Empty table. Columns: {}", columns.join(", "))
    } else {
        format!(
            "{n} record{}. Columns: {}",
            if n == 1 { "" } else { "s" },
            columns.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_escapes_become_line_breaks_and_tabs() {
        assert_eq!(unescape_cell(r"a\nb\tc\r\nd"), "a\nb\tc\nd");
        assert_eq!(fold_cell(r"  a\n b  "), "a b");
    }

    #[test]
    fn file_like_cells() {
        assert!(looks_like_file(r"DDF\Bulletin 12.pdf"));
        assert!(looks_like_file("photo.JPG"));
        assert!(!looks_like_file("3.5"));
        assert!(!looks_like_file("no extension"));
    }

    #[test]
    fn any_profile_edit_changes_the_fingerprint() {
        let profiles =
            |yaml: &str| BTreeMap::from([("alpha".to_owned(), Profile::parse(yaml).unwrap())]);
        let base = profile_fingerprint(&profiles("tables:\n  D:\n    fields: { Log: pre }\n"));
        for edit in [
            "tables:\n  D:\n    fields: { Log: hidden }\n",
            "tables:\n  D:\n    name: Papers\n    fields: { Log: pre }\n",
            "tables:\n  D:\n    fields: { Log: pre }\n    redact: [Phone]\n",
        ] {
            assert_ne!(profile_fingerprint(&profiles(edit)), base, "{edit}");
        }
        assert_eq!(
            profile_fingerprint(&profiles("tables:\n  D:\n    fields: { Log: pre }\n")),
            base
        );
    }

    #[test]
    fn joins_parse_and_name_their_mistakes() {
        let join =
            Join::parse("Documents.DocumentCategoryID -> DocumentCategory.DocumentCategoryID")
                .unwrap();
        assert_eq!(join.to_table, "DocumentCategory");
        assert!(
            Join::parse("Documents -> X.Y")
                .unwrap_err()
                .contains("Documents")
        );
    }
}
