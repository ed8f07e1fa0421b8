//! Pass 2: table listings and record pages. Each table is re-read as a stream; rows are
//! rendered in parallel chunks of [`CHUNK_ROWS`], so memory holds one chunk of cells at most
//! per table being rendered.

use std::collections::BTreeMap;
use std::sync::Mutex;

use rayon::prelude::*;
use serde::Serialize;
use serde_json::json;

use super::{FieldType, Table, TableSet, fold_cell, read, unescape_cell};
use crate::collect::Collection;
use crate::dates::{DateView, DocDate};
use crate::document::{Body, Document};
use crate::error::Result;
use crate::extract::escape_html;
use crate::output::Output;
use crate::page_cache::PageContext;
use crate::render::{Renderer, page_count, page_url, paginate};

/// What [`paginate`] needs to page a table of `rows` rows: one slot per page, paged one to a
/// page. The pager comes out as for a list of every row id, without such a list (4 or 8
/// bytes a row, per sort order) existing.
fn page_slots(rows: usize, page_size: usize) -> Vec<usize> {
    (0..page_count(rows, page_size)).collect()
}

/// Rows read before a chunk is rendered in parallel.
const CHUNK_ROWS: usize = 512;
/// Joined records listed on a record page (the count is always given).
const MAX_JOINED_SHOWN: usize = 50;
/// Per-record problems named in a table's warnings; the rest are counted.
const MAX_RECORD_WARNINGS: usize = 10;

/// One record, for the search index: what a document gives it, with `kind` the table's
/// display name (so records filter by table).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct SearchRecord<'a> {
    /// Site path of the record page (no leading `/`).
    pub url: &'a str,
    /// Title.
    pub title: &'a str,
    /// Agency slug.
    pub agency: &'a str,
    /// The table's display name.
    pub kind: &'a str,
    /// Date, when the profile names a date column and the cell parses.
    pub date: Option<DocDate>,
    /// The shown fields' plain text (hidden, dropped and redacted columns left out).
    pub text: &'a str,
    /// Its table: the index in [`TableSet::record_tables`].
    pub table: usize,
    /// Its row in the table, from 0: the record's place among the table's records.
    pub row: usize,
}

/// Receives every record as its page renders (from any thread). An error is that record's
/// warning, as a failed page is.
pub type RecordSink<'s> = &'s (dyn Fn(&SearchRecord<'_>) -> Result<()> + Sync);

/// What the table pass wrote and noticed.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct TableRender {
    /// HTML pages written (listings and records; table documents' own pages not counted).
    pub pages: usize,
    /// Record pages written.
    pub records: usize,
    /// Problems, by document id.
    pub warnings: Vec<(usize, String)>,
}

#[derive(Serialize)]
struct TableView<'a> {
    name: &'a str,
    url: String,
    count: usize,
    empty: bool,
    sheet: Option<&'a str>,
    columns: Vec<&'a str>,
    has_dates: bool,
}

#[derive(Serialize)]
struct RowCard<'a> {
    url: String,
    title: &'a str,
    date: Option<DateView>,
}

#[derive(Serialize)]
struct FieldView<'a> {
    name: &'a str,
    kind: &'static str,
    html: String,
    empty: bool,
}

#[derive(Serialize)]
struct RecordLinkView {
    url: String,
    title: String,
}

#[derive(Serialize)]
struct JoinView<'a> {
    label: &'a str,
    /// `to`: this record points at them; `from`: they point at this record.
    direction: &'static str,
    count: usize,
    records: Vec<RecordLinkView>,
    /// A key that matches no record (`to` joins only).
    missing: Option<String>,
}

#[derive(Serialize)]
struct RecordView<'a> {
    url: String,
    title: &'a str,
    date: Option<DateView>,
    summary: Option<String>,
    fields: Vec<FieldView<'a>>,
    joins: Vec<JoinView<'a>>,
    source_path: &'a str,
    row_number: usize,
}

impl TableSet {
    /// The page of a table document (a CSV table that is shown): its listing's first page,
    /// with the original published beside it. Call from the document render loop.
    #[allow(clippy::too_many_arguments)]
    pub fn render_document(
        &self,
        renderer: &Renderer<'_>,
        out: &Output,
        docs: &[Document],
        collection: &Collection,
        agency_index: &BTreeMap<&str, usize>,
        doc: &Document,
        body: &Body,
    ) -> Result<()> {
        let t = self.by_doc[&doc.id][0];
        let page_size = renderer.page_size();
        let slots = page_slots(self.tables[t].rows.len(), page_size);
        let (url, ctx) = self.listing_context(t, 0, 1, page_size, &slots);
        renderer.document_page(
            out,
            docs,
            collection,
            agency_index,
            doc,
            body,
            "table.html",
            &url,
            ctx,
            true,
        )
    }

    fn listing_context(
        &self,
        t: usize,
        sort: usize,
        page: usize,
        page_size: usize,
        slots: &[usize],
    ) -> (String, PageContext) {
        let table = &self.tables[t];
        let order = &table.orders[sort];
        let base = format!("/{}{}", table.base, order.folder);
        let n = table.rows.len();
        let start = ((page - 1) * page_size).min(n);
        let end = (start + page_size).min(n);
        let (pager, _) = paginate(slots, page, 1, &base);
        let records: Vec<RowCard> = (start..end)
            .map(|position| {
                let r = order
                    .rows
                    .as_ref()
                    .map_or(position, |rows| rows[position] as usize);
                RowCard {
                    url: format!("/{}{}/", table.base, table.rows.slug(r)),
                    title: table.rows.title(r),
                    date: table.rows.date(r).map(|d| d.view()),
                }
            })
            .collect();
        let sorts: Vec<_> = table
            .orders
            .iter()
            .enumerate()
            .map(|(i, order)| {
                json!({"label": order.label, "url": format!("/{}{}", table.base, order.folder), "active": i == sort})
            })
            .collect();
        let mut ctx = PageContext::new();
        ctx.insert("table", &self.table_view(t));
        ctx.insert("records", &records);
        ctx.insert("pager", &pager);
        ctx.insert("sorts", &sorts);
        ctx.insert("breadcrumbs", &self.crumbs(t, None));
        let url = page_url(&base, page);
        (url[1..].to_owned(), ctx)
    }

    fn table_view(&self, t: usize) -> TableView<'_> {
        let table = &self.tables[t];
        TableView {
            name: &table.display,
            url: format!("/{}", table.base),
            count: table.rows.len(),
            empty: table.rows.is_empty(),
            sheet: table.sheet.as_deref(),
            columns: table
                .columns
                .iter()
                .filter(|c| c.shown)
                .map(|c| c.name.as_str())
                .collect(),
            has_dates: table.date_col.is_some(),
        }
    }

    /// Agency › table (› record).
    fn crumbs(&self, t: usize, record: Option<(&str, &str)>) -> Vec<serde_json::Value> {
        let table = &self.tables[t];
        let mut crumbs = vec![json!({"name": "", "url": format!("/{}/", table.agency)})];
        crumbs.push(json!({"name": table.display, "url": format!("/{}", table.base)}));
        if let Some((title, url)) = record {
            crumbs.push(json!({"name": title, "url": url}));
        }
        crumbs
    }

    /// Renders every listing page (but the table documents' own) and every record page.
    /// `sink`, when given, receives each record for the search index.
    pub fn render(
        &self,
        renderer: &Renderer<'_>,
        out: &Output,
        docs: &[Document],
        collection: &Collection,
        agency_index: &BTreeMap<&str, usize>,
        sink: Option<RecordSink<'_>>,
    ) -> TableRender {
        let agency_name = |slug: &str| {
            agency_index
                .get(slug)
                .map(|&i| collection.agencies[i].name.clone())
                .unwrap_or_else(|| slug.to_owned())
        };
        let results: Vec<TableRender> = self
            .tables
            .par_iter()
            .enumerate()
            .filter(|(_, table)| !table.hidden)
            .map(|(t, table)| {
                let doc = &docs[table.doc_id];
                let mut result = TableRender::default();
                let agency = agency_name(&table.agency);
                let fix_crumbs = |ctx: &mut PageContext, crumbs: Vec<serde_json::Value>| {
                    let mut crumbs = crumbs;
                    crumbs[0]["name"] = json!(agency);
                    if table.sheet.is_some() {
                        crumbs.insert(
                            1,
                            json!({"name": doc.title, "url": format!("/{}", doc.url)}),
                        );
                    }
                    ctx.insert("breadcrumbs", &crumbs);
                };
                // Listing pages.
                let page_size = renderer.page_size();
                let slots = page_slots(table.rows.len(), page_size);
                let mut jobs = Vec::new();
                for sort in 0..table.orders.len() {
                    for page in 1..=slots.len() {
                        let own_page = sort == 0 && page == 1 && self.owns(table.doc_id);
                        if !own_page {
                            jobs.push((sort, page));
                        }
                    }
                }
                let listing_errors: Vec<String> = jobs
                    .par_iter()
                    .filter_map(|&(sort, page)| {
                        let (url, mut ctx) = self.listing_context(t, sort, page, page_size, &slots);
                        fix_crumbs(&mut ctx, self.crumbs(t, None));
                        renderer
                            .document_page(
                                out,
                                docs,
                                collection,
                                agency_index,
                                doc,
                                &Body::default(),
                                "table.html",
                                &url,
                                ctx,
                                false,
                            )
                            .err()
                            .map(|err| format!("listing page /{url} not written: {err}"))
                    })
                    .collect();
                result.pages += jobs.len() - listing_errors.len();

                // Record pages, streaming.
                let errors = Mutex::new((0usize, Vec::new()));
                let mut chunk: Vec<(usize, Vec<String>)> = Vec::with_capacity(CHUNK_ROWS);
                let mut next_row = 0usize;
                let render_chunk = |chunk: &mut Vec<(usize, Vec<String>)>| {
                    let written: usize = chunk
                        .par_iter()
                        .map(|(r, cells)| {
                            match self.render_record(
                                renderer,
                                out,
                                t,
                                *r,
                                cells,
                                &agency,
                                doc,
                                &fix_crumbs,
                                sink,
                            ) {
                                Ok(()) => 1,
                                Err(err) => {
                                    let mut errors =
                                        errors.lock().unwrap_or_else(|e| e.into_inner());
                                    errors.0 += 1;
                                    if errors.1.len() < MAX_RECORD_WARNINGS {
                                        errors.1.push(format!(
                                            "record {} not written: {err}",
                                            table.rows.slug(*r)
                                        ));
                                    }
                                    0
                                }
                            }
                        })
                        .sum();
                    chunk.clear();
                    written
                };
                let mut records = 0usize;
                let read = read::read_table(&table.source, |line, cells| {
                    if line == read::Line::Header {
                        return Ok(());
                    }
                    if next_row >= table.rows.len() {
                        return Ok(()); // The file grew since it was indexed.
                    }
                    chunk.push((next_row, cells));
                    next_row += 1;
                    if chunk.len() == CHUNK_ROWS {
                        records += render_chunk(&mut chunk);
                    }
                    Ok(())
                });
                records += render_chunk(&mut chunk);
                if let Err(err) = read {
                    result.warnings.push((
                        table.doc_id,
                        format!("records after row {next_row} not written: {err}"),
                    ));
                }
                let (failed, named) = errors.into_inner().unwrap_or_else(|e| e.into_inner());
                for warning in listing_errors.into_iter().chain(named) {
                    result.warnings.push((table.doc_id, warning));
                }
                if failed > MAX_RECORD_WARNINGS {
                    result.warnings.push((
                        table.doc_id,
                        format!(
                            "and {} more records not written",
                            failed - MAX_RECORD_WARNINGS
                        ),
                    ));
                }
                result.pages += records;
                result.records = records;
                result
            })
            .collect();
        let mut total = TableRender::default();
        for result in results {
            total.pages += result.pages;
            total.records += result.records;
            total.warnings.extend(result.warnings);
        }
        total
    }

    #[allow(clippy::too_many_arguments)]
    fn render_record(
        &self,
        renderer: &Renderer<'_>,
        out: &Output,
        t: usize,
        r: usize,
        cells: &[String],
        agency: &str,
        doc: &Document,
        fix_crumbs: &(dyn Fn(&mut PageContext, Vec<serde_json::Value>) + Sync),
        sink: Option<RecordSink<'_>>,
    ) -> Result<()> {
        let table = &self.tables[t];
        let title = table.rows.title(r);
        let date = table.rows.date(r);
        let url = format!("{}{}/", table.base, table.rows.slug(r));
        let mut text = String::new();
        let mut fields = Vec::new();
        for (i, column) in table.columns.iter().enumerate() {
            if !column.shown {
                continue;
            }
            let raw = cells.get(i).map(String::as_str).unwrap_or("");
            let (html, kind) = if column.redacted && !raw.trim().is_empty() {
                (
                    "<span class=\"redacted\">[redacted]</span>".to_owned(),
                    "redacted",
                )
            } else {
                let (html, plain, kind) = self.field_html(table, column.kind, column.typed, raw);
                if !plain.trim().is_empty() {
                    text.push_str(&column.name);
                    text.push_str(": ");
                    text.push_str(&plain);
                    text.push('\n');
                }
                (html, kind)
            };
            fields.push(FieldView {
                name: &column.name,
                kind,
                empty: raw.trim().is_empty(),
                html,
            });
        }
        let mut joins = Vec::new();
        for link in &self.links {
            // A hidden table's records are not published, so nothing links to or names them.
            if self.tables[link.from].hidden || self.tables[link.to].hidden {
                continue;
            }
            if link.from == t {
                let target = &self.tables[link.to];
                let key = cells.get(link.from_col).map(|c| c.trim()).unwrap_or("");
                let found = link.forward.get(r).copied().filter(|&x| x != u32::MAX);
                if found.is_none() && key.is_empty() {
                    continue;
                }
                joins.push(JoinView {
                    label: &link.label,
                    direction: "to",
                    count: usize::from(found.is_some()),
                    records: found
                        .map(|x| vec![self.link_to(link.to, x as usize)])
                        .unwrap_or_default(),
                    missing: found.is_none().then(|| {
                        format!(
                            "no {} record with {} {key}",
                            target.display, table.columns[link.from_col].name
                        )
                    }),
                });
            }
            if link.to == t {
                let start = link.offsets[r] as usize;
                let end = link.offsets[r + 1] as usize;
                if start == end {
                    continue;
                }
                joins.push(JoinView {
                    label: if end - start == 1 {
                        &link.reverse_label_one
                    } else {
                        &link.reverse_label
                    },
                    direction: "from",
                    count: end - start,
                    records: link.reverse_rows[start..end]
                        .iter()
                        .take(MAX_JOINED_SHOWN)
                        .map(|&s| self.link_to(link.from, s as usize))
                        .collect(),
                    missing: None,
                });
            }
        }
        let summary = table
            .summary_col
            .and_then(|i| cells.get(i))
            .map(|c| fold_cell(c))
            .filter(|s| !s.is_empty());
        let view = RecordView {
            url: format!("/{url}"),
            title,
            date: date.map(|d| d.view()),
            summary,
            fields,
            joins,
            source_path: &doc.source.rel_path,
            row_number: r + 1,
        };
        let neighbour = |i: usize| {
            (i < table.rows.len()).then(|| {
                json!({"url": format!("/{}{}/", table.base, table.rows.slug(i)), "title": table.rows.title(i)})
            })
        };
        let agency_view =
            json!({"name": agency, "url": format!("/{}/", table.agency), "slug": table.agency});
        let doc_view = json!({"title": doc.title, "url": format!("/{}", doc.url),
            "original_url": doc.original_url.as_ref().map(|u| format!("/{u}")), "file_name": doc.source.file_name()});
        let fill = |ctx: &mut PageContext| {
            ctx.insert("record", &view);
            ctx.insert("table", &self.table_view(t));
            ctx.insert("agency", &agency_view);
            ctx.insert("doc", &doc_view);
            ctx.insert("prev", &r.checked_sub(1).and_then(neighbour));
            ctx.insert("next", &neighbour(r + 1));
            ctx.insert("feed_url", &format!("/{}/feed.xml", table.agency));
            fix_crumbs(ctx, self.crumbs(t, Some((title, &view.url))));
        };
        // Fields hold cells' markup (leaked HTML sanitized, links, images).
        renderer.page_lazy(out, "record.html", &url, fill, true)?;
        if let Some(sink) = sink {
            sink(&SearchRecord {
                url: &url,
                title,
                agency: &table.agency,
                kind: &table.display,
                date,
                text: &text,
                table: t,
                row: r,
            })?;
        }
        Ok(())
    }

    fn link_to(&self, t: usize, r: usize) -> RecordLinkView {
        let table = &self.tables[t];
        RecordLinkView {
            url: format!("/{}{}/", table.base, table.rows.slug(r)),
            title: table.rows.title(r).to_owned(),
        }
    }

    /// One cell as safe HTML, its plain text for search, and the kind shown.
    fn field_html(
        &self,
        table: &Table,
        kind: FieldType,
        typed: bool,
        raw: &str,
    ) -> (String, String, &'static str) {
        let value = unescape_cell(raw);
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return (String::new(), String::new(), "empty");
        }
        let text_html = |text: &str| {
            escape_html(text)
                .replace("\r\n", "\n")
                .replace('\n', "<br>")
                .replace('\t', "\u{2003}\u{2003}")
        };
        match kind {
            FieldType::Html => {
                let safe = crate::sanitize::sanitize_html(&value);
                let plain = html_text(&safe.html);
                (
                    format!("<div class=\"field-html\">{}</div>", safe.html),
                    plain,
                    "html",
                )
            }
            FieldType::Pre => (
                format!("<pre class=\"field-pre\">{}</pre>", escape_html(&value)),
                value.into_owned(),
                "pre",
            ),
            FieldType::Date => match DocDate::parse(trimmed) {
                Some(date) => {
                    let view = date.view();
                    (
                        format!(
                            "<time datetime=\"{}\">{}</time>",
                            view.rfc3339,
                            escape_html(&view.display)
                        ),
                        trimmed.to_owned(),
                        "date",
                    )
                }
                None => (text_html(trimmed), trimmed.to_owned(), "text"),
            },
            FieldType::Attachment | FieldType::Image => (
                self.attachment_html(table, trimmed, kind == FieldType::Image),
                trimmed.to_owned(),
                if kind == FieldType::Image {
                    "image"
                } else {
                    "attachment"
                },
            ),
            FieldType::Hidden => (String::new(), String::new(), "hidden"),
            FieldType::Text => {
                if !typed
                    && super::looks_like_file(trimmed)
                    && let Some(html) = self.existing_attachment_html(table, trimmed, false)
                {
                    return (html, trimmed.to_owned(), "attachment");
                }
                (text_html(&value), value.into_owned(), "text")
            }
        }
    }

    fn attachment_html(&self, table: &Table, name: &str, image: bool) -> String {
        self.existing_attachment_html(table, name, image).unwrap_or_else(|| {
            format!(
                "<span class=\"missing\">{} <span class=\"missing-note\">(file not in the archive)</span></span>",
                escape_html(name)
            )
        })
    }

    fn existing_attachment_html(&self, table: &Table, name: &str, image: bool) -> Option<String> {
        let doc_id = self.files.as_ref()?.resolve(&table.agency, name)?;
        let (url, original, is_image) = self.file_urls.get(&doc_id)?;
        let mut html = format!(
            "<a class=\"attachment\" href=\"/{}\">{}</a>",
            escape_html(url),
            escape_html(name)
        );
        if image
            && *is_image
            && let Some(original) = original
        {
            html.push_str(&format!(
                "<img class=\"field-image\" src=\"/{}\" alt=\"{}\" loading=\"lazy\">",
                escape_html(original),
                escape_html(name)
            ));
        }
        Some(html)
    }
}

/// The text of HTML that leakpress made or sanitized: tags dropped (each leaving a space),
/// entities for `&<>"'` and `&nbsp;` turned back, whitespace folded. Record text for search
/// is made with it, and tests read rendered pages with it.
pub fn html_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    let out = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}
