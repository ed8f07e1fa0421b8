//! leakpress turns a leaked-document dump into a browsable, searchable, fully static archive.
//!
//! [`build`] runs the pipeline, one module per stage, in this order:
//! [`discover`] → [`extract`] → [`collect`] → [`render`] → finish (feeds, sitemap, [`manifest`],
//! build [`report`]). Extraction and rendering run in parallel (rayon); every other stage is
//! serial and cheap. Output is deterministic: same input, config and version give the same
//! bytes, whatever the thread count.
#![warn(missing_docs, unreachable_pub)]

pub mod collect;
pub mod config;
pub mod dates;
pub mod discover;
pub mod document;
pub mod error;
pub mod extract;
pub mod links;
pub mod manifest;
pub mod output;
pub mod render;
pub mod report;
pub mod sanitize;
pub mod search_index;
pub mod slug;
pub mod tables;
pub mod theme;
mod yaml;

use std::io::Read;
use std::time::Instant;

use rayon::prelude::*;

pub use config::{BuildOptions, Config};
pub use error::{Error, Result};
pub use output::Output;
pub use report::{Fate, Report};

use discover::SourceFile;
use document::{Body, Document, excerpt};
use extract::{ExtractContext, Extractor, Metadata};

/// Sitemaps hold at most this many URLs each (the protocol's limit).
const SITEMAP_LIMIT: usize = 50_000;

/// Calls `progress` as documents finish; the CLI turns this into a progress bar.
pub type Progress<'a> = &'a (dyn Fn(ProgressEvent) + Sync);

/// What the build is doing, for progress display.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum ProgressEvent {
    /// Extraction starts for this many files.
    Extracting(usize),
    /// One file extracted.
    Extracted,
    /// Rendering starts for this many documents.
    Rendering(usize),
    /// One document page written.
    Rendered,
}

/// Builds the archive at `options.root` into `out`. Returns the build report; per-file
/// problems are warnings in it, and only a problem with the whole build is an `Err`.
pub fn build(options: &BuildOptions, out: &Output, progress: Progress<'_>) -> Result<Report> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.jobs.unwrap_or(0))
        .build()
        .map_err(|err| Error::Other(format!("cannot start worker threads: {err}")))?;
    pool.install(|| build_in_pool(options, out, progress))
}

fn build_in_pool(options: &BuildOptions, out: &Output, progress: Progress<'_>) -> Result<Report> {
    let mut timer = Timer::new();
    let config = Config::load(&options.root)?;
    let theme = theme::Theme::load(&options.root, &config)?;
    let mut report = Report::default();
    let discovery = discover::discover(&options.content_dir(), &config, &mut report)?;
    timer.lap("discover");

    let extractors = extract::registry();
    progress(ProgressEvent::Extracting(discovery.sources.len()));
    let extracted: Vec<(Document, Body)> = discovery
        .sources
        .par_iter()
        .enumerate()
        .map(|(id, source)| {
            let result = extract_one(id, source, &config, &extractors);
            progress(ProgressEvent::Extracted);
            result
        })
        .collect();
    let (mut docs, mut bodies): (Vec<Document>, Vec<Body>) = extracted.into_iter().unzip();
    timer.lap("extract");

    // URLs must be fixed before anything links to a document.
    collect::assign_urls(&mut docs);
    // Tables are indexed (streaming) once URLs are fixed, since records link to documents;
    // the pass names table documents, so it runs before collect sorts them by title.
    let tables = tables::index(
        &options.root,
        &options.content_dir(),
        &discovery.agencies,
        &mut docs,
        &mut bodies,
    )?;
    let mut collection = collect::collect(&docs, &discovery.agencies);
    tables.apply_agency_info(&mut collection.agencies, &discovery.agencies);
    timer.lap("collect");

    let mut renderer = render::Renderer::new(&theme, &config, options)?;
    if let Some(intro_path) = &discovery.intro {
        renderer.set_intro(Some(render_intro(intro_path, &config, &mut report)));
    }
    renderer.set_tables(&tables);
    let agency_index = collection
        .agencies
        .iter()
        .enumerate()
        .map(|(i, a)| (a.slug.as_str(), i))
        .collect();
    progress(ProgressEvent::Rendering(docs.len()));
    // The search index takes each body's text as its page renders, before the body is dropped.
    let search = search_index::Indexer::new(&docs, &collection.agencies, &config);
    let page_errors: Vec<(usize, Error)> = bodies
        .into_par_iter()
        .enumerate()
        .filter_map(|(id, body)| {
            let result = if tables.owns(id) {
                let doc = &docs[id];
                tables.render_document(
                    &renderer,
                    out,
                    &docs,
                    &collection,
                    &agency_index,
                    doc,
                    &body,
                )
            } else {
                renderer.document(out, &docs, &collection, &agency_index, &docs[id], &body)
            };
            let indexed = search.add(out, &docs[id], &body);
            progress(ProgressEvent::Rendered);
            result.and(indexed).err().map(|err| (id, err))
        })
        .collect();
    // A template error on one page is that document's warning; the rest of the site stands.
    for (id, err) in page_errors {
        docs[id].warnings.push(format!("page not written: {err}"));
    }
    let listing_pages = renderer.listings(out, &docs, &collection)?;
    for asset in theme.assets.values() {
        out.write(&asset.path, &asset.bytes)?;
    }
    timer.lap("render");

    // Records are not Documents (one table may hold 500,000 rows): a dedicated streaming
    // pass renders them. Search does not take records yet: `tables::SearchRecord` via the
    // sink (here `None`) is what the index will need.
    let table_render = tables.render(&renderer, out, &docs, &collection, &agency_index, None);
    for (id, warning) in table_render.warnings {
        docs[id].warnings.push(warning);
    }
    timer.lap("records");

    // The search page names the manifest, so it renders once the index is written.
    let search_manifest = search.finish(out, &docs, &collection.agencies)?;
    renderer.search_page(out, &search_manifest)?;
    timer.lap("index");

    write_sitemaps(out, &config, &mut report)?;
    let ledger = out.ledger();
    out.write(
        manifest::MANIFEST_FILE,
        manifest::render(&ledger).as_bytes(),
    )?;
    timer.lap("finish");

    for doc in &docs {
        let url = doc.url.clone();
        report.record(
            &doc.source.rel_path,
            Fate::Page {
                url,
                kind: doc.kind.to_owned(),
            },
        );
        for warning in &doc.warnings {
            report.warn(&doc.source.rel_path, warning.clone());
        }
        *report
            .summary
            .documents_by_kind
            .entry(doc.kind.to_owned())
            .or_default() += 1;
    }
    report.summary.documents = docs.len();
    report.summary.agencies = collection.agencies.len();
    report.summary.pages = docs.len() + listing_pages + table_render.pages;
    report.summary.files_written = ledger.len() + 1;
    report.summary.timings = timer.laps;
    report.finish();
    Ok(report)
}

/// Reads, hashes and extracts one file. Never fails: problems become the document's warnings.
fn extract_one(
    id: usize,
    source: &SourceFile,
    config: &Config,
    extractors: &[Box<dyn Extractor>],
) -> (Document, Body) {
    let mut warnings = Vec::new();
    let (bytes, sha256) = match read_source(source) {
        Ok(read) => read,
        Err(err) => {
            warnings.push(format!(
                "could not read the file ({err}): published without content"
            ));
            (Vec::new(), String::new())
        }
    };
    let sidecar = source.sidecar.as_ref().and_then(|path| {
        match std::fs::read_to_string(path)
            .map_err(Error::from)
            .and_then(|text| Metadata::from_yaml(&text))
        {
            Ok((meta, sidecar_warnings)) => {
                warnings.extend(
                    sidecar_warnings
                        .into_iter()
                        .map(|w| format!("sidecar: {w}")),
                );
                Some(meta)
            }
            Err(err) => {
                warnings.push(format!("sidecar {} ignored: {err}", path.display()));
                None
            }
        }
    });
    if source.size == 0 {
        warnings.push("empty file".to_owned());
    }
    let ctx = ExtractContext {
        source,
        bytes: &bytes,
        sidecar: sidecar.as_ref(),
        config,
    };
    let outcome = extract::run(extractors, &ctx);
    let extracted = outcome.extracted;
    warnings.extend(extracted.warnings);
    let meta = extracted.meta;
    let title = match meta.title {
        Some(title) => title,
        None => {
            let fallback = title_from_file_name(source.file_name(), outcome.kind);
            if outcome.kind == "markdown" {
                warnings.push(format!("no title: used {fallback:?} from the file name"));
            }
            fallback
        }
    };
    let summary = meta
        .summary
        .unwrap_or_else(|| excerpt(&extracted.text, 240));
    let doc = Document {
        id,
        source: source.clone(),
        kind: outcome.kind,
        slug: meta.slug.unwrap_or_default(),
        url: String::new(),
        title,
        date: meta.date,
        tags: meta.tags,
        summary,
        extra: meta.extra,
        facts: extracted.facts,
        sha256: if sha256.is_empty() {
            output::sha256_hex(&bytes)
        } else {
            sha256
        },
        original_url: None,
        warnings,
        mail_ids: extracted.mail_ids,
    };
    let body = Body {
        html: extracted.body_html,
        text: extracted.text,
        derived: extracted.derived,
    };
    (doc, body)
}

/// Reads a file for extraction and hashes all of it. Files over the extraction cap are
/// hashed as a stream and only their head is returned (enough to detect the type).
fn read_source(source: &SourceFile) -> Result<(Vec<u8>, String)> {
    if source.size <= extract::MAX_EXTRACT_BYTES {
        let bytes = std::fs::read(&source.abs_path)?;
        let sha = output::sha256_hex(&bytes);
        return Ok((bytes, sha));
    }
    let sha = output::sha256_file(&source.abs_path)?;
    let mut head = Vec::with_capacity(8192);
    std::fs::File::open(&source.abs_path)?
        .take(8192)
        .read_to_end(&mut head)?;
    Ok((head, sha))
}

/// `2020-05-31_protest_bulletin.md` → `2020-05-31 protest bulletin`.
fn title_from_file_name(name: &str, kind: &str) -> String {
    let stem = if kind == "markdown" {
        name.rsplit_once('.').map_or(name, |(stem, _)| stem)
    } else {
        name
    };
    let title = stem.replace('_', " ").trim().to_owned();
    if title.is_empty() {
        name.to_owned()
    } else {
        title
    }
}

/// Renders `content/_index.md` for the home page.
fn render_intro(path: &std::path::Path, config: &Config, report: &mut Report) -> String {
    let rel = discover::INTRO_FILE;
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) => {
            report.warn(rel, format!("home-page introduction not read: {err}"));
            return String::new();
        }
    };
    let source = SourceFile {
        rel_path: rel.to_owned(),
        abs_path: path.to_path_buf(),
        agency: String::new(),
        size: bytes.len() as u64,
        extension: "md".to_owned(),
        sidecar: None,
    };
    let ctx = ExtractContext {
        source: &source,
        bytes: &bytes,
        sidecar: None,
        config,
    };
    let outcome = extract::run(&extract::registry(), &ctx);
    for warning in outcome.extracted.warnings {
        report.warn(rel, warning);
    }
    outcome.extracted.body_html
}

/// `sitemap.xml` (a sitemap index past 50,000 URLs) and `robots.txt`. Sitemaps need absolute
/// URLs, so without `base_url` there is none, and the report says so.
fn write_sitemaps(out: &Output, config: &Config, report: &mut Report) -> Result<()> {
    let Some(base) = &config.base_url else {
        report.warn(
            config::CONFIG_FILE,
            "no base_url: sitemap.xml not written (sitemaps need absolute URLs)",
        );
        out.write("robots.txt", b"User-agent: *\nAllow: /\n")?;
        return Ok(());
    };
    let urls: Vec<String> = out
        .ledger()
        .into_keys()
        .filter(|path| path.ends_with("index.html"))
        .map(|path| format!("{base}{}", path.trim_end_matches("index.html")))
        .collect();
    let sitemap = |urls: &[String]| {
        let mut xml = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
        );
        for url in urls {
            xml.push_str("<url><loc>");
            xml.push_str(&extract::escape_html(url));
            xml.push_str("</loc></url>\n");
        }
        xml.push_str("</urlset>\n");
        xml
    };
    if urls.len() <= SITEMAP_LIMIT {
        out.write("sitemap.xml", sitemap(&urls).as_bytes())?;
    } else {
        let mut index = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
        );
        for (n, chunk) in urls.chunks(SITEMAP_LIMIT).enumerate() {
            let name = format!("sitemap-{}.xml", n + 1);
            out.write(&name, sitemap(chunk).as_bytes())?;
            index.push_str(&format!("<sitemap><loc>{base}{name}</loc></sitemap>\n"));
        }
        index.push_str("</sitemapindex>\n");
        out.write("sitemap.xml", index.as_bytes())?;
    }
    out.write(
        "robots.txt",
        format!("User-agent: *\nAllow: /\nSitemap: {base}sitemap.xml\n").as_bytes(),
    )
}

struct Timer {
    start: Instant,
    laps: Vec<(String, f64)>,
}

impl Timer {
    fn new() -> Timer {
        Timer {
            start: Instant::now(),
            laps: Vec::new(),
        }
    }

    fn lap(&mut self, stage: &str) {
        let now = Instant::now();
        self.laps
            .push((stage.to_owned(), (now - self.start).as_secs_f64()));
        self.start = now;
    }
}
