//! leakpress turns a leaked-document dump into a browsable, searchable, fully static archive.
//!
//! [`build`] runs the pipeline, one module per stage, in this order:
//! [`discover`] → [`extract`] → [`collect`] → [`render`] → finish (feeds, sitemap, [`manifest`],
//! build [`report`]). Extraction and rendering run in parallel (rayon); the other stages are
//! cheap, and their serial parts run beside other work where none depends on the other (the
//! listings beside the search index, the cache's last writes beside the output's). Output is
//! deterministic: same input, config and version give the same bytes, whatever the thread
//! count.
#![warn(missing_docs, unreachable_pub)]

pub mod cache;
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
pub mod page_cache;
pub mod render;
pub mod report;
pub mod sanitize;
pub mod search_index;
pub mod serve;
pub mod slug;
mod spill;
pub mod stamps;
pub mod tables;
pub mod theme;
mod yaml;

use std::io::Read;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use rayon::prelude::*;

pub use config::{BuildOptions, Config};
pub use error::{Error, Result};
pub use output::Output;
pub use report::{Fate, Report};

use cache::Cache;
use discover::SourceFile;
use document::{Body, BodyIdentity, BodySpill, Document, LazyBody, SpilledBody, excerpt};
use extract::{ExtractContext, Extractor, Metadata};
use stamps::SourceStamps;

/// Sitemaps hold at most this many URLs each (the protocol's limit).
const SITEMAP_LIMIT: usize = 50_000;
/// Characters of text that stand in for a document without a summary of its own.
pub const SUMMARY_CHARS: usize = 240;

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
    // Before any file is looked at: stamps recorded by this build vouch for files older.
    let started = std::time::SystemTime::now();
    let config = Config::load(&options.root)?;
    let theme = theme::Theme::load(&options.root, &config)?;
    let mut report = Report::default();
    let cache = open_cache(options, &config, &mut report);
    let snapshot = search_index::SnapshotLoad::start(&cache);
    // A table that is missing or damaged only means every file is read this time.
    let stamps = cache
        .get_decoded(stamps::NAMESPACE, SourceStamps::cache_key(), |bytes| {
            SourceStamps::decode(bytes, started)
        })
        .unwrap_or_else(|| SourceStamps::new(started));
    let mut discovery = discover::discover(&options.content_dir(), &config, &mut report)?;
    timer.lap("discover");

    let extractors = extract::registry();
    // Each source moves into its document: a second copy would outlive extraction (about
    // 300 bytes a file).
    let sources = std::mem::take(&mut discovery.sources);
    progress(ProgressEvent::Extracting(sources.len()));
    // Pages need every document's metadata before the first one renders, so bodies wait for
    // their page on disk, not in memory: memory then holds metadata only, whatever the corpus.
    let spill_dir = options.report_path();
    let spill = BodySpill::create(spill_dir.parent().unwrap_or(&options.root))
        .map_err(|err| Error::Other(format!("cannot create the body spill file: {err}")))?;
    let extracted: Vec<(Document, Parked)> = sources
        .into_par_iter()
        .enumerate()
        .map(|(id, source)| {
            let (doc, body, cached) =
                extract_one(id, source, &config, &extractors, &cache, &stamps);
            progress(ProgressEvent::Extracted);
            // The table pass rewrites table documents' bodies, so those (few, small) stay. A
            // body the cache holds is read back from there: parking a second copy cost a
            // compression per document (a tenth of a 10,000-document build's CPU went to
            // compressing each body twice).
            let parked = match cached {
                _ if doc.kind == "table" => Parked::Held(body),
                Some(StoredBody {
                    at: BodyAt::Source,
                    identity,
                    ..
                }) => Parked::Remade {
                    identity: cache.is_enabled().then_some(identity),
                },
                Some(StoredBody {
                    at: BodyAt::Cache(entry),
                    identity,
                    derived,
                    ..
                }) => Parked::Cached {
                    entry,
                    identity,
                    derived,
                },
                None => Parked::Spilled(spill.put(&body)?),
            };
            Ok((doc, parked))
        })
        .collect::<Result<_>>()?;
    let (mut docs, mut parked): (Vec<Document>, Vec<Parked>) = extracted.into_iter().unzip();
    (report.summary.sources_read, report.summary.sources_vouched) = stamps.counts();
    timer.lap("extract");

    // The stamps are stored while the (serial) collection runs.
    let (stamps_stored, collected) = rayon::join(
        || {
            if !cache.is_enabled() {
                return None;
            }
            let table = stamps.changed()?;
            cache
                .put(stamps::NAMESPACE, SourceStamps::cache_key(), &table)
                .err()
        },
        || collect_stage(options, &discovery, &mut docs, &mut parked),
    );
    if let Some(err) = stamps_stored {
        report.warn(".", format!("source stamps not cached: {err}"));
    }
    drop(stamps);
    let (tables, collection) = collected?;
    timer.lap("collect");

    let mut renderer = render::Renderer::new(&theme, &config, options)?;
    if let Some(intro_path) = &discovery.intro {
        renderer.set_intro(Some(render_intro(intro_path, &config, &mut report)));
    }
    renderer.set_tables(&tables);
    renderer.prepare(&docs, &collection);
    let agency_index = render::agency_positions(&collection.agencies);
    progress(ProgressEvent::Rendering(docs.len()));
    // The search index takes each body's text as its page renders, before the body is dropped.
    // Records are numbered up front from the tables' row counts, so their entries go out as
    // they arrive instead of waiting in memory for the last of 500,000.
    // The indexer waits here for the previous search snapshot (loading since the build
    // began, see `SnapshotLoad`); the page table decodes beside it.
    let (search, page_table) = rayon::join(
        || {
            search_index::Indexer::new(
                &docs,
                &collection.agencies,
                &config,
                tables.profile_fingerprint(),
                &tables.record_tables(),
                snapshot,
            )
        },
        || {
            // A table that is missing or damaged only means every page is rendered this time.
            (cache.is_enabled() && out.persists()).then(|| {
                cache
                    .get_decoded(
                        page_cache::NAMESPACE,
                        page_cache::PageTable::cache_key(),
                        page_cache::PageTable::decode,
                    )
                    .unwrap_or_default()
            })
        },
    );
    if let Some(table) = page_table {
        renderer.set_page_table(table);
    }
    // Any change renames the index's folder, but most of its files stay the same: they move
    // with it, to be compared instead of written anew.
    out.carry_over_folder("search/", &format!("search/{}/", search.key()));
    let search_clock = ThreadClock::default();
    let bodies_read = AtomicUsize::new(0);
    let page_errors: Vec<(usize, Vec<String>)> = parked
        .into_par_iter()
        .enumerate()
        .filter_map(|(id, parked)| {
            // Read only if the page or the search terms cannot be reused without it.
            let (spill, cache, bodies_read) = (&spill, &cache, &bodies_read);
            let (docs, config, extractors) = (&docs, &config, &extractors);
            let body = match parked {
                Parked::Held(body) => LazyBody::ready(body),
                Parked::Spilled(at) => LazyBody::new(None, true, move || {
                    bodies_read.fetch_add(1, Ordering::Relaxed);
                    spill
                        .get(at)
                        .map_err(|err| Error::Other(format!("body spill unreadable: {err}")))
                }),
                Parked::Remade { identity } => LazyBody::new(identity, false, move || {
                    bodies_read.fetch_add(1, Ordering::Relaxed);
                    remake_body(&docs[id], config, extractors)
                }),
                Parked::Cached {
                    entry,
                    identity,
                    derived,
                } => LazyBody::new(Some(identity), derived, move || {
                    bodies_read.fetch_add(1, Ordering::Relaxed);
                    cache
                        .read(entry)
                        .and_then(|bytes| cache::body_of(&bytes))
                        .map_err(|err| {
                            let why = format!("body unreadable from the incremental cache: {err}");
                            Error::Other(why)
                        })
                }),
            };
            let doc = &docs[id];
            let result = if tables.owns(id) {
                body.get().and_then(|body| {
                    tables.render_document(
                        &renderer,
                        out,
                        docs,
                        &collection,
                        &agency_index,
                        doc,
                        body,
                    )
                })
            } else {
                renderer.document(out, docs, &collection, &agency_index, doc, &body)
            };
            let indexed = search_clock.time(|| search.add(out, doc, &body));
            progress(ProgressEvent::Rendered);
            let warnings = match (result, indexed) {
                (Ok(()), Ok(())) => return None,
                // The body that stopped the page stopped the index too: said once.
                (Err(page), Err(index)) if page.to_string() == index.to_string() => {
                    vec![format!(
                        "page not written and left out of the search index: {page}"
                    )]
                }
                (page, index) => page
                    .err()
                    .map(|err| format!("page not written: {err}"))
                    .into_iter()
                    .chain(
                        index
                            .err()
                            .map(|err| format!("left out of the search index: {err}")),
                    )
                    .collect(),
            };
            Some((id, warnings))
        })
        .collect();
    // Every body has come back: free the spill's disk space now, not at the end.
    drop(spill);
    // A template error on one page is that document's warning; the rest of the site stands.
    for (id, warnings) in page_errors {
        docs[id].warnings.extend(warnings);
    }
    out.forget_folders();
    timer.lap("render");

    // Records are not Documents (one table may hold 500,000 rows): a dedicated streaming
    // pass renders them, and hands each record to the search index as its page is written.
    let record_sink =
        |record: &tables::SearchRecord<'_>| search_clock.time(|| search.add_record(out, record));
    let table_render = tables.render(
        &renderer,
        out,
        &docs,
        &collection,
        &agency_index,
        Some(&record_sink),
    );
    for (id, warning) in table_render.warnings {
        docs[id].warnings.push(warning);
    }
    timer.lap("records");

    search.release_memos();
    // Listings are written while the index assembles: it reads its previous snapshot on
    // one thread at a time for long stretches, which left a core idle for a fifth of a
    // one-edit rebuild's index stage.
    let (listing_pages, search) = rayon::join(
        || -> Result<usize> {
            let pages = renderer.listings(out, &docs, &collection)?;
            for asset in theme.assets.values() {
                out.write(&asset.path, &asset.bytes)?;
            }
            Ok(pages)
        },
        || search.finish(out, &docs, &collection.agencies),
    );
    let (listing_pages, search) = (listing_pages?, search?);
    // The search page names the manifest, so it renders once the index is written.
    if let Some(warning) = search.warning {
        report.warn(".", warning);
    }
    report.summary.search_reused = search.reused;
    report.summary.snapshot_blocks = search.blocks.written;
    report.summary.snapshot_blocks_copied = search.blocks.copied;
    report.summary.snapshot_blocks_whole = search.blocks.whole;
    renderer.search_page(out, &search.manifest)?;
    (report.summary.pages_rendered, report.summary.pages_reused) = renderer.page_counts();
    timer.lap("index");

    // What is left is mostly serial; its two halves run side by side: the cache (the page
    // table, then the commit) and the output's last files.
    let page_table = renderer
        .page_table()
        .and_then(page_cache::PageTable::changed);
    let mut sitemap_report = Report::default();
    let (cached, finished) = rayon::join(
        || {
            let table = page_table.map(|table| {
                cache
                    .put(
                        page_cache::NAMESPACE,
                        page_cache::PageTable::cache_key(),
                        &table,
                    )
                    .map(drop)
                    .map_err(|err| format!("page table not cached: {err}"))
            });
            // Only after the last lookup: what this build did not use is garbage now.
            let commit = cache
                .commit()
                .map_err(|err| format!("incremental cache not saved: {err}"));
            (table, commit)
        },
        || -> Result<()> {
            write_sitemaps(out, &config, &mut sitemap_report)?;
            // The ledger names every file (530,000 at 500,000 records): rendered where it
            // lies, as a copy would cost a path and a digest a file.
            let manifest_text = out.with_ledger(manifest::render);
            // The manifest goes last: its time vouches that every folder holds what it lists.
            out.remove_stale()?;
            out.write_manifest(manifest_text.as_bytes())
        },
    );
    finished?;
    report.warnings.extend(sitemap_report.warnings);
    if cache.is_enabled() {
        let (table, commit) = cached;
        for err in [table.and_then(Result::err), commit.err()]
            .into_iter()
            .flatten()
        {
            report.warn(".", err);
        }
        report.summary.cache = Some(cache.stats());
    }
    report.summary.output = out.stats();
    let files_written = out.with_ledger(|ledger| ledger.len());
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
    report.summary.files_written = files_written;
    report.summary.timings = timer.laps;
    report.summary.stage_peak_bytes = timer.peaks;
    report.summary.search_seconds = search_clock.seconds();
    report.summary.bodies_read = bodies_read.into_inner();
    report.finish();
    // A few allocations a document and a page, freed on both cores.
    rayon::join(|| drop(docs), || drop(renderer));
    Ok(report)
}

/// URLs, the table pass and the collection: what rendering needs of every document first.
fn collect_stage(
    options: &BuildOptions,
    discovery: &discover::Discovery,
    docs: &mut [Document],
    parked: &mut [Parked],
) -> Result<(tables::TableSet, collect::Collection)> {
    // URLs must be fixed before anything links to a document.
    collect::assign_urls(docs);
    // Tables are indexed (streaming) once URLs are fixed, since records link to documents;
    // the pass names table documents, so it runs before collect sorts them by title.
    // The table pass indexes bodies by document id but only touches table documents, so
    // it gets a slice just long enough for the last of them.
    let held_len = parked
        .iter()
        .rposition(|p| matches!(p, Parked::Held(_)))
        .map_or(0, |i| i + 1);
    let mut held_bodies: Vec<Body> = parked[..held_len]
        .iter_mut()
        .map(|p| match p {
            Parked::Held(body) => std::mem::take(body),
            Parked::Spilled(_) | Parked::Cached { .. } | Parked::Remade { .. } => Body::default(),
        })
        .collect();
    let tables = tables::index(
        &options.root,
        &options.content_dir(),
        &discovery.agencies,
        docs,
        &mut held_bodies,
    )?;
    for (slot, body) in parked.iter_mut().zip(held_bodies) {
        if let Parked::Held(held) = slot {
            *held = body;
        }
    }
    let mut collection = collect::collect(docs, &discovery.agencies);
    tables.apply_agency_info(&mut collection.agencies, &discovery.agencies);
    Ok((tables, collection))
}

/// Where a document's body waits between extraction and its page.
enum Parked {
    /// In the spill file.
    Spilled(SpilledBody),
    /// In the incremental cache, as part of the document's extraction entry, whose key is
    /// the body's identity; `derived` says whether it carries derived files.
    Cached {
        entry: cache::EntryRef,
        identity: BodyIdentity,
        derived: bool,
    },
    /// In memory (table documents, whose bodies the table pass rewrites).
    Held(Body),
    /// Nowhere: made again from the file when the page renders, as its format allows (see
    /// [`Extractor::extract_without_body`]). Compressing a Markdown body to park it and
    /// reading it back cost more than making it again. `identity` as for `Cached`, when the
    /// build keeps a cache.
    Remade { identity: Option<BodyIdentity> },
}

/// The body of `doc`, whose extraction left it to be made again from its file (see
/// [`Parked::Remade`]); an error if the file is no longer the one extracted.
fn remake_body(doc: &Document, config: &Config, extractors: &[Box<dyn Extractor>]) -> Result<Body> {
    let (bytes, sha256) = read_source(&doc.source)
        .map_err(|err| Error::Other(format!("file no longer readable ({err})")))?;
    if sha256 != doc.sha256 {
        return Err(Error::Other(
            "file changed while the site was built: build again to publish it".to_owned(),
        ));
    }
    let ctx = ExtractContext {
        source: &doc.source,
        bytes: &bytes,
        sidecar: None,
        config,
    };
    let outcome = extract::run(extractors, &ctx);
    if outcome.kind != doc.kind {
        let why = outcome.extracted.warnings.join("; ");
        return Err(Error::Other(format!("body could not be made again: {why}")));
    }
    Ok(Body {
        html: outcome.extracted.body_html,
        text: outcome.extracted.text,
        derived: outcome.extracted.derived,
    })
}

/// Reads, hashes and extracts one file. Never fails: problems become the document's warnings.
fn extract_one(
    id: usize,
    source: SourceFile,
    config: &Config,
    extractors: &[Box<dyn Extractor>],
    cache: &Cache,
    stamps: &SourceStamps,
) -> (Document, Body, Option<StoredBody>) {
    let mut warnings = Vec::new();
    // Taken when the file was found, before it is read, so a change while it is read moves
    // the stamp; without a cache there is no table to keep it in.
    let stamp = source.stamp.filter(|_| cache.is_enabled());
    let vouched = stamp.and_then(|stamp| stamps.known(&source.rel_path, &stamp));
    // A file its stamp vouches for is read only if the cache no longer holds its extraction.
    let read = vouched
        .is_none()
        .then(|| read_source_or_warn(&source, &mut warnings));
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
    let hit = vouched.as_deref().and_then(|sha256| {
        let ctx = ExtractContext {
            source: &source,
            bytes: &[],
            sidecar: sidecar.as_ref(),
            config,
        };
        cache_lookup(extractors, &ctx, sha256, cache)
    });
    let (bytes, sha256, outcome, cached, was_read) = match (hit, vouched) {
        (Some((outcome, stored)), Some(sha256)) => {
            (Vec::new(), sha256, outcome, Some(stored), false)
        }
        (_, vouched) => {
            let (bytes, sha256) =
                read.unwrap_or_else(|| read_source_or_warn(&source, &mut warnings));
            let ctx = ExtractContext {
                source: &source,
                bytes: &bytes,
                sidecar: sidecar.as_ref(),
                config,
            };
            let looked_up = vouched.is_some_and(|sha| sha == sha256);
            let (outcome, cached) =
                cached_extract(extractors, &ctx, &sha256, cache, &mut warnings, !looked_up);
            (bytes, sha256, outcome, cached, true)
        }
    };
    stamps.count(was_read);
    if let Some(stamp) = stamp
        && !sha256.is_empty()
    {
        stamps.record(&source.rel_path, stamp, &sha256, was_read);
    }
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
    let summary = match (meta.summary, &cached) {
        (Some(summary), _) => summary,
        (
            None,
            Some(StoredBody {
                text_start: Some(start),
                ..
            }),
        ) => start.clone(),
        (None, _) => excerpt(&extracted.text, SUMMARY_CHARS),
    };
    let doc = Document {
        id,
        source,
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
    (doc, body, cached)
}

/// Where an extraction's body lies in the cache, and what the document needs of it before
/// its page renders.
struct StoredBody {
    at: BodyAt,
    identity: BodyIdentity,
    /// Whether the body carries derived files.
    derived: bool,
    /// For a result read back without its body: the text's start, the summary of a document
    /// without one.
    text_start: Option<String>,
}

/// Where an extraction's body waits for its page.
enum BodyAt {
    /// In this cache entry.
    Cache(cache::EntryRef),
    /// Nowhere: it is made again from the file ([`Parked::Remade`]).
    Source,
}

impl StoredBody {
    /// A body made again from the file when its page renders.
    fn remade(identity: BodyIdentity, text_start: Option<String>) -> StoredBody {
        StoredBody {
            at: BodyAt::Source,
            identity,
            derived: false,
            text_start,
        }
    }
}

/// [`extract::run`], or its stored result when the same file (path, bytes and sidecar) was
/// extracted by an earlier build with the same code and configuration; and where the body
/// lies in the cache, if it does. A stored result comes back without its body (checked, not
/// decompressed), except a table's, which the table pass reads now.
fn cached_extract(
    extractors: &[Box<dyn Extractor>],
    ctx: &ExtractContext<'_>,
    sha256: &str,
    cache: &Cache,
    warnings: &mut Vec<String>,
    look_up: bool,
) -> (extract::Outcome, Option<StoredBody>) {
    // An unread file has no content hash to key on, nor to check it by when it is read again.
    if sha256.is_empty() {
        return (extract::run(extractors, ctx), None);
    }
    if look_up && let Some((outcome, stored)) = cache_lookup(extractors, ctx, sha256, cache) {
        return (outcome, Some(stored));
    }
    let (key, identity) = extraction_key(ctx, sha256);
    if let Some(outcome) = extract::run_without_body(extractors, ctx) {
        if let Err(err) = cache.put(
            cache::EXTRACT_META,
            &key,
            &cache::encode_outcome(&outcome, true),
        ) {
            warnings.push(format!("not stored in the incremental cache: {err}"));
        }
        return (outcome, Some(StoredBody::remade(identity, None)));
    }
    if !cache.is_enabled() {
        return (extract::run(extractors, ctx), None);
    }
    let outcome = extract::run(extractors, ctx);
    if outcome.extracted.transient {
        return (outcome, None);
    }
    let stored = cache
        .put(cache::EXTRACT, &key, &cache::encode_body(&outcome))
        .and_then(|entry| {
            cache.put(
                cache::EXTRACT_META,
                &key,
                &cache::encode_outcome(&outcome, false),
            )?;
            Ok(entry)
        });
    match stored {
        Ok(entry) => {
            let derived = !outcome.extracted.derived.is_empty();
            let stored = entry.map(|entry| StoredBody {
                at: BodyAt::Cache(entry),
                identity,
                derived,
                text_start: None,
            });
            (outcome, stored)
        }
        Err(err) => {
            warnings.push(format!("not stored in the incremental cache: {err}"));
            (outcome, None)
        }
    }
}

/// The cache key of a file's extraction, and the identity of its body.
fn extraction_key(ctx: &ExtractContext<'_>, sha256: &str) -> (String, BodyIdentity) {
    let sidecar = format!("{:?}", ctx.sidecar);
    let size = ctx.source.size.to_le_bytes();
    let key = cache::key([
        ctx.source.rel_path.as_bytes(),
        &size[..],
        sha256.as_bytes(),
        sidecar.as_bytes(),
    ]);
    let identity = output::digest_of_hex(&key).expect("cache keys are SHA-256 in hex");
    (key, identity)
}

/// The stored extraction of the file `ctx` names, whose bytes hash to `sha256`; `ctx.bytes`
/// are not needed. See [`cached_extract`].
fn cache_lookup(
    extractors: &[Box<dyn Extractor>],
    ctx: &ExtractContext<'_>,
    sha256: &str,
    cache: &Cache,
) -> Option<(extract::Outcome, StoredBody)> {
    if !cache.is_enabled() || sha256.is_empty() {
        return None;
    }
    let (key, identity) = extraction_key(ctx, sha256);
    let cached = cache.get_decoded(cache::EXTRACT_META, &key, |bytes| {
        cache::decode_outcome(bytes, extractors)
    })?;
    let derived = cached.derived;
    if cached.remade {
        let stored = StoredBody::remade(identity, Some(cached.text_start));
        return Some((cached.outcome, stored));
    }
    if cached.outcome.kind != "table" {
        let entry = cache.check(cache::EXTRACT, &key)?;
        let stored = StoredBody {
            at: BodyAt::Cache(entry),
            identity,
            derived,
            text_start: Some(cached.text_start),
        };
        return Some((cached.outcome, stored));
    }
    let (body, entry) =
        cache.get_decoded_at(cache::EXTRACT, &key, |bytes| cache::body_of(bytes).ok())?;
    let mut outcome = cached.outcome;
    outcome.extracted.body_html = body.html;
    outcome.extracted.text = body.text;
    outcome.extracted.derived = body.derived;
    let stored = StoredBody {
        at: BodyAt::Cache(entry),
        identity,
        derived,
        text_start: None,
    };
    Some((outcome, stored))
}

/// Opens the incremental cache named by the options. A cache that cannot be used is a warning
/// and a build from scratch, never a failed build.
fn open_cache(options: &BuildOptions, config: &Config, report: &mut Report) -> Cache {
    let Some(dir) = &options.cache_dir else {
        return Cache::disabled();
    };
    // Everything that reaches every entry: the code that made it and the whole configuration.
    let fingerprint = format!("{}\n{config:?}", cache::code_identity());
    match Cache::open(dir, &fingerprint) {
        // An emptied cache is no problem with the input: the summary says so, not a warning.
        Ok(cache) => cache,
        Err(err) => {
            report.warn(".", format!("incremental cache not used: {err}"));
            Cache::disabled()
        }
    }
}

/// [`read_source`], its failure a warning and an empty, unhashed file.
fn read_source_or_warn(source: &SourceFile, warnings: &mut Vec<String>) -> (Vec<u8>, String) {
    read_source(source).unwrap_or_else(|err| {
        warnings.push(format!(
            "could not read the file ({err}): published without content"
        ));
        (Vec::new(), String::new())
    })
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
        stamp: None,
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
    // Pages are read from the ledger where it lies, one sitemap's worth at a time: neither a
    // copy of the ledger (a path and a digest a file) nor a list of every URL is made.
    let is_page = |path: &&String| path.ends_with("index.html");
    let pages = out.with_ledger(|ledger| ledger.keys().filter(is_page).count());
    // The sitemap of the (at most SITEMAP_LIMIT) pages after `after`, and its last page.
    let sitemap = |after: Option<&str>| {
        out.with_ledger(|ledger| {
            let from = after.map_or(Bound::Unbounded, Bound::Excluded);
            let mut xml = String::from(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
            );
            let mut last = None;
            for path in ledger
                .range::<str, _>((from, Bound::Unbounded))
                .map(|(path, _)| path)
                .filter(is_page)
                .take(SITEMAP_LIMIT)
            {
                let url = format!("{base}{}", path.trim_end_matches("index.html"));
                xml.push_str("<url><loc>");
                xml.push_str(&extract::escape_html(&url));
                xml.push_str("</loc></url>\n");
                last = Some(path);
            }
            xml.push_str("</urlset>\n");
            (xml, last.cloned())
        })
    };
    if pages <= SITEMAP_LIMIT {
        out.write("sitemap.xml", sitemap(None).0.as_bytes())?;
    } else {
        let mut index = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
        );
        let mut after = None;
        for n in 1..=pages.div_ceil(SITEMAP_LIMIT) {
            let (xml, last) = sitemap(after.as_deref());
            let name = format!("sitemap-{n}.xml");
            // Sitemap files are not pages: writing them moves no page in the ledger.
            out.write(&name, xml.as_bytes())?;
            index.push_str(&format!("<sitemap><loc>{base}{name}</loc></sitemap>\n"));
            after = last;
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
    peaks: Vec<(String, u64)>,
}

impl Timer {
    fn new() -> Timer {
        Timer {
            start: Instant::now(),
            laps: Vec::new(),
            peaks: Vec::new(),
        }
    }

    fn lap(&mut self, stage: &str) {
        let now = Instant::now();
        self.laps
            .push((stage.to_owned(), (now - self.start).as_secs_f64()));
        if let Some(peak) = peak_rss() {
            self.peaks.push((stage.to_owned(), peak));
        }
        self.start = now;
    }
}

/// The process's peak resident memory so far, in bytes: Linux's `VmHWM`, `None` elsewhere.
/// A stage whose figure rises above the one before it set the new peak. (Linux could reset
/// the mark per stage, but that also resets what `time` and `getrusage` report for the whole
/// run.)
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Time spent in one kind of work by every thread, added up: the render threads tokenize for
/// the search index between pages, so no stage's wall time shows what indexing costs.
#[derive(Default)]
struct ThreadClock {
    nanos: AtomicU64,
}

impl ThreadClock {
    fn time<T>(&self, work: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let result = work();
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(nanos, Ordering::Relaxed);
        result
    }

    fn seconds(&self) -> f64 {
        self.nanos.load(Ordering::Relaxed) as f64 / 1e9
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Markdown body is not kept between extraction and its page, but made again from the
    /// file: the same body the whole extraction makes, or an error if the file changed since.
    #[test]
    fn a_remade_body_is_the_extracted_one_or_an_error_if_the_file_changed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("memo.md");
        let markdown = "---\ntitle: Memo\n---\n# Memo\n\nBody *text*.\n";
        std::fs::write(&path, markdown).unwrap();
        let source = SourceFile {
            rel_path: "agency/memo.md".to_owned(),
            abs_path: path.clone(),
            agency: "agency".to_owned(),
            size: markdown.len() as u64,
            extension: "md".to_owned(),
            sidecar: None,
            stamp: None,
        };
        let config = Config::default();
        let extractors = extract::registry();
        let stamps = SourceStamps::new(std::time::SystemTime::now());
        let (doc, body, stored) = extract_one(
            0,
            source.clone(),
            &config,
            &extractors,
            &Cache::disabled(),
            &stamps,
        );
        assert!(matches!(
            stored,
            Some(StoredBody {
                at: BodyAt::Source,
                ..
            })
        ));
        assert!(body.html.is_empty(), "{}", body.html);
        assert_eq!(doc.title, "Memo");
        let whole = extract::run(
            &extractors,
            &ExtractContext {
                source: &source,
                bytes: markdown.as_bytes(),
                sidecar: None,
                config: &config,
            },
        );
        let remade = remake_body(&doc, &config, &extractors).unwrap();
        assert_eq!(remade.html, whole.extracted.body_html);
        assert!(remade.html.contains("<em>text</em>"), "{}", remade.html);
        assert_eq!(remade.text, whole.extracted.text);

        std::fs::write(&path, "# Memo\n\nEdited since.\n").unwrap();
        let err = remake_body(&doc, &config, &extractors).unwrap_err();
        assert!(
            err.to_string().contains("changed while the site was built"),
            "{err}"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_peak_so_far_counts_memory_just_touched() {
        let block = vec![1u8; 64 << 20];
        std::hint::black_box(&block);
        let peak = peak_rss().expect("Linux reports VmHWM");
        assert!(peak >= 64 << 20, "peak {peak} bytes");
        drop(block);
    }

    #[test]
    fn past_the_limit_pages_spread_over_sitemaps_in_path_order() {
        let out = Output::memory();
        let pages = 2 * SITEMAP_LIMIT + 1;
        for i in 0..pages {
            out.write(&format!("p{i:06}/index.html"), b"").unwrap();
            out.write(&format!("p{i:06}/feed.xml"), b"").unwrap();
        }
        let config = Config::parse("base_url: https://example.org/").unwrap();
        write_sitemaps(&out, &config, &mut Report::default()).unwrap();
        let files = out.into_files();
        let text = |path: &str| String::from_utf8(files[path].clone()).unwrap();
        let index = text("sitemap.xml");
        for n in 1..=3 {
            let loc = format!("<loc>https://example.org/sitemap-{n}.xml</loc>");
            assert!(index.contains(&loc), "{loc}");
        }
        assert!(!files.contains_key("sitemap-4.xml"));
        let locs: Vec<String> = (1..=3)
            .flat_map(|n| {
                let sitemap = text(&format!("sitemap-{n}.xml"));
                let count = sitemap.matches("<loc>").count();
                assert!(count <= SITEMAP_LIMIT, "sitemap-{n}.xml has {count} URLs");
                sitemap
                    .lines()
                    .filter_map(|l| l.strip_prefix("<url><loc>")?.strip_suffix("</loc></url>"))
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        let expected: Vec<String> = (0..pages)
            .map(|i| format!("https://example.org/p{i:06}/"))
            .collect();
        assert_eq!(locs, expected);
    }
}
