//! The `leakpress` command line: a thin layer over the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use leakpress::{BuildOptions, Output, ProgressEvent, Report};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's defaults keep freed memory committed for ten seconds and commit its first
/// 1 GiB arena up front: a 50,000-row table build then peaked at 204-225 MB against glibc's
/// 156 MB. Committing on demand and purging after [`PURGE_DELAY_MS`] keeps the peak near
/// glibc's at mimalloc's speed.
/// The option numbers are mimalloc 3's `mi_option_arena_eager_commit` and
/// `mi_option_purge_delay` (the sys crate names them for mimalloc 2 only).
const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
/// Milliseconds freed pages stay committed. Purging at once (0) cost a 50,000-document build
/// 42 s of system time against 25 s at 10 ms: each purge is an `madvise` that shoots down
/// the other cores' TLB entries, and the page is soon faulted in and zeroed again. 10 ms
/// added 9 MB to the peak where 100 ms added 38 MB and 1 s 81 MB (one run each).
const PURGE_DELAY_MS: std::ffi::c_long = 10;

/// Milliseconds freed pages stay committed in a rebuild, which reads the previous search
/// snapshot back: batch after batch of postings is decoded, merged and dropped, and at 10 ms
/// each batch faulted its pages in and zeroed them afresh. A 50,000-document one-edit
/// rebuild on tmpfs took 8.0-8.3 s (3.9-4.0 s of it system time) at 10 ms, 7.0 s (2.3-2.5
/// s) at 300 ms and 6.9 s at 1 s; its peak grew from 447-454 MiB to 529-533 (545-550 at
/// 1 s), still below a first build's. A first build keeps 10 ms: its peak is the one the
/// memory budget binds (a 10,000-document first build peaked at 395-401 MiB at 10 ms and
/// 430-447 MiB at 300 ms).
const REBUILD_PURGE_DELAY_MS: std::ffi::c_long = 300;

extern "C" fn tune_allocator() {
    // SAFETY: runs before `main` on Linux (and first thing in it elsewhere), when no other
    // thread exists; the setters are not thread-safe.
    unsafe {
        libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0);
        libmimalloc_sys::mi_option_set(PURGE_DELAY, PURGE_DELAY_MS);
    }
}

/// The Rust runtime allocates (and so reserves mimalloc's first arena) before `main`; a
/// constructor sets the options before that.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static TUNE_ALLOCATOR: extern "C" fn() = tune_allocator;

#[derive(Parser)]
#[command(
    name = "leakpress",
    version,
    about = "Turn a leaked-document dump into a static archive"
)]
struct Cli {
    /// The archive root (the folder holding leakpress.yaml and content/).
    #[arg(long, global = true, default_value = ".")]
    root: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the site into public/ (or --out).
    Build {
        #[command(flatten)]
        build: BuildArgs,
    },
    /// Validate content and config without writing anything.
    Check {
        /// Exit non-zero when there are warnings.
        #[arg(long)]
        strict: bool,
    },
    /// Check a built site against its MANIFEST.sha256.
    Verify {
        /// The published folder.
        dir: PathBuf,
    },
    /// Create a new archive skeleton that builds.
    Init {
        /// Where to create it.
        dir: PathBuf,
    },
    /// Build, serve on 127.0.0.1 and rebuild when content changes.
    Serve {
        #[command(flatten)]
        build: BuildArgs,
        /// Port to listen on.
        #[arg(long, default_value_t = 8000)]
        port: u16,
    },
    /// Internal: reads one PDF from stdin for a build (each PDF runs in its own process, so a
    /// runaway one can be killed).
    #[command(hide = true, name = leakpress::extract::PDF_WORKER_SUBCOMMAND)]
    PdfWorker,
}

#[derive(clap::Args)]
struct BuildArgs {
    /// Links end in index.html, so the site works opened from disk.
    #[arg(long)]
    offline: bool,
    /// Output folder (default: public/ under the root).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Worker threads (default: one per core).
    #[arg(long)]
    jobs: Option<usize>,
    /// Exit non-zero when there are warnings.
    #[arg(long)]
    strict: bool,
    /// Print the time each stage took.
    #[arg(long)]
    timings: bool,
    /// Build from scratch: neither read nor write the incremental cache (.leakpress-cache/).
    #[arg(long)]
    no_cache: bool,
}

fn main() -> ExitCode {
    if !cfg!(target_os = "linux") {
        tune_allocator();
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    if let Ok(me) = std::env::current_exe() {
        leakpress::extract::isolate_pdfs(me, leakpress::extract::PDF_TIMEOUT);
    }
    match cli.command {
        Command::Build { build } => {
            let options = build_options(&cli.root, &build);
            if options.has_previous_index() {
                // SAFETY: no other thread exists yet (the build's pool starts later), as
                // `mi_option_set` requires.
                unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, REBUILD_PURGE_DELAY_MS) };
            }
            let report = build_once(&options, &build)?;
            Ok(strict_exit(&report, build.strict))
        }
        Command::Check { strict } => {
            let options = BuildOptions::new(&cli.root);
            let started = Instant::now();
            let report =
                leakpress::build(&options, &Output::discard(), &|_| {}).context("check failed")?;
            print_warnings(&report);
            println!(
                "Checked {} documents in {} agencies: {} warnings, {:.2} s (nothing written)",
                report.summary.documents,
                report.summary.agencies,
                report.warnings.len(),
                started.elapsed().as_secs_f64()
            );
            Ok(strict_exit(&report, strict))
        }
        Command::Verify { dir } => {
            let result = leakpress::manifest::verify(&dir)
                .with_context(|| format!("cannot verify {}", dir.display()))?;
            for path in &result.missing {
                println!("missing  {path}");
            }
            for path in &result.changed {
                println!("changed  {path}");
            }
            for path in &result.extra {
                println!("extra    {path}");
            }
            println!(
                "{} files match; {} missing, {} changed, {} extra",
                result.ok,
                result.missing.len(),
                result.changed.len(),
                result.extra.len()
            );
            Ok(if result.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Init { dir } => {
            init(&dir)?;
            println!(
                "Created an archive in {0}. Build it with: leakpress --root {0} build",
                dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { build, port } => serve(&cli.root, &build, port),
        Command::PdfWorker => {
            leakpress::extract::pdf_worker().context("PDF worker")?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn build_options(root: &Path, args: &BuildArgs) -> BuildOptions {
    let mut options = BuildOptions::new(root);
    options.offline = args.offline;
    options.jobs = args.jobs;
    if !args.no_cache {
        options.cache_dir = Some(options.default_cache_dir());
    }
    if let Some(out) = &args.out {
        options.out_dir = out.clone();
    }
    options
}

fn build_once(options: &BuildOptions, args: &BuildArgs) -> Result<Report> {
    let started = Instant::now();
    let out = Output::disk(&options.out_dir)?;
    let bar = if console_is_terminal() {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        Some(bar)
    } else {
        None
    };
    let progress = |event: ProgressEvent| {
        if let Some(bar) = &bar {
            match event {
                ProgressEvent::Extracting(n) => {
                    bar.set_message("extract");
                    bar.set_length(n as u64);
                    bar.set_position(0);
                }
                ProgressEvent::Rendering(n) => {
                    bar.set_message("render");
                    bar.set_length(n as u64);
                    bar.set_position(0);
                }
                ProgressEvent::Extracted | ProgressEvent::Rendered => bar.inc(1),
                _ => {}
            }
        }
    };
    let report = leakpress::build(options, &out, &progress).context("build failed")?;
    // The output's lists of files (this build's and the previous manifest's, a path and a
    // digest each) are freed while the report is written.
    std::thread::spawn(move || drop(out));
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let report_path = options.report_path();
    std::fs::write(&report_path, report.to_json()?)
        .with_context(|| format!("cannot write {}", report_path.display()))?;
    print_warnings(&report);
    if args.timings {
        let peaks = &report.summary.stage_peak_bytes;
        for (stage, seconds) in &report.summary.timings {
            match peaks.iter().find(|(name, _)| name == stage) {
                Some((_, bytes)) => eprintln!(
                    "  {stage:<10} {seconds:>8.3} s  {:>6} MiB peak so far",
                    bytes >> 20
                ),
                None => eprintln!("  {stage:<10} {seconds:>8.3} s"),
            }
        }
        eprintln!(
            "  search   {:>8.3} s over all threads, within render and records; {} documents' terms reused; {} of {} snapshot blocks copied, {} with their index files",
            report.summary.search_seconds,
            report.summary.search_reused,
            report.summary.snapshot_blocks_copied,
            report.summary.snapshot_blocks,
            report.summary.snapshot_blocks_whole
        );
        eprintln!(
            "  sources    {} read and hashed, {} unchanged by their stamps and not read",
            report.summary.sources_read, report.summary.sources_vouched
        );
        eprintln!(
            "  pages      {} rendered, {} unchanged and not rendered again; {} bodies read",
            report.summary.pages_rendered, report.summary.pages_reused, report.summary.bodies_read
        );
        if let Some(cache) = &report.summary.cache {
            eprintln!(
                "  cache      {} reused, {} made, {} damaged and redone, {} pruned",
                cache.hits, cache.written, cache.corrupt, cache.pruned
            );
        }
        let files = &report.summary.output;
        eprintln!(
            "  output     {} written, {} unchanged, {} removed; {} read back to check them",
            files.written, files.unchanged, files.removed, files.compared
        );
    }
    if let Some(why) = report
        .summary
        .cache
        .as_ref()
        .and_then(|c| c.emptied_because.as_ref())
    {
        eprintln!("note: the incremental cache was emptied: {why}");
    }
    let kinds = report
        .summary
        .documents_by_kind
        .iter()
        .map(|(kind, n)| format!("{kind} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    println!(
        "Built {} documents ({kinds}) in {} agencies: {} pages, {} warnings, {:.2} s → {}",
        report.summary.documents,
        report.summary.agencies,
        report.summary.pages,
        report.warnings.len(),
        started.elapsed().as_secs_f64(),
        options.out_dir.display()
    );
    println!(
        "Open {} in a browser{}; the full report is {}",
        options.out_dir.join("index.html").display(),
        if options.offline {
            ""
        } else {
            " (or run `leakpress serve`)"
        },
        report_path.display()
    );
    Ok(report)
}

fn print_warnings(report: &Report) {
    const SHOWN: usize = 20;
    for warning in report.warnings.iter().take(SHOWN) {
        eprintln!("warning: {}: {}", warning.path, warning.message);
    }
    if report.warnings.len() > SHOWN {
        eprintln!(
            "… and {} more warnings in the build report",
            report.warnings.len() - SHOWN
        );
    }
}

fn strict_exit(report: &Report, strict: bool) -> ExitCode {
    if strict && !report.warnings.is_empty() {
        eprintln!("--strict: {} warnings", report.warnings.len());
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn console_is_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
}

fn init(dir: &Path) -> Result<()> {
    if dir.join("content").exists() || dir.join(leakpress::config::CONFIG_FILE).exists() {
        bail!("{} already holds an archive", dir.display());
    }
    let agency = dir.join("content").join("example-agency");
    std::fs::create_dir_all(&agency)
        .with_context(|| format!("cannot create {}", agency.display()))?;
    let files: [(PathBuf, &str); 4] = [
        (
            dir.join(leakpress::config::CONFIG_FILE),
            "title: \"My leak archive\"\ndescription: \"What this archive holds.\"\n# base_url: \"https://archive.example.org/\"\npage_size: 50\n",
        ),
        (
            dir.join("content").join("_index.md"),
            "---\ntitle: Home\n---\nThis archive was built with leakpress. Put one folder per agency under `content/`.\n",
        ),
        (
            agency.join("_agency.yaml"),
            "name: \"Example Agency\"\nkind: \"police department\"\nstate: \"\"\ndescription: \"Replace this folder with real agency folders.\"\n",
        ),
        (
            agency.join("welcome.md"),
            "---\ntitle: Welcome\ndate: 2020-01-01\ntags: [example]\nsummary: A first document.\n---\n# Welcome\n\nEvery file in an agency folder becomes a page.\n",
        ),
    ];
    for (path, text) in files {
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn serve(root: &Path, args: &BuildArgs, port: u16) -> Result<ExitCode> {
    let options = build_options(root, args);
    build_once(&options, args)?;
    let listener = std::net::TcpListener::bind(("127.0.0.1", port))
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    println!(
        "Serving {} at http://127.0.0.1:{port}/ (Ctrl-C stops)",
        options.out_dir.display()
    );

    let watch_root = options.root.clone();
    let rebuild_options = options.clone();
    let rebuild_args = BuildArgs {
        offline: args.offline,
        out: args.out.clone(),
        jobs: args.jobs,
        strict: false,
        timings: false,
        no_cache: args.no_cache,
    };
    std::thread::spawn(move || {
        let mut last = newest_change(&watch_root);
        loop {
            std::thread::sleep(Duration::from_secs(1));
            let now = newest_change(&watch_root);
            if now != last {
                last = now;
                if let Err(err) = build_once(&rebuild_options, &rebuild_args) {
                    eprintln!("error: {err:#}");
                }
            }
        }
    });

    leakpress::serve::serve(listener, options.out_dir.clone())
        .context("the preview server stopped")?;
    Ok(ExitCode::SUCCESS)
}

fn newest_change(root: &Path) -> Option<SystemTime> {
    walkdir::WalkDir::new(root.join("content"))
        .into_iter()
        .chain(walkdir::WalkDir::new(root.join("themes")))
        .filter_map(|e| e.ok())
        .filter_map(|e| e.metadata().ok()?.modified().ok())
        .chain(
            std::fs::metadata(root.join(leakpress::config::CONFIG_FILE))
                .and_then(|m| m.modified())
                .ok(),
        )
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The constructor runs in every binary of this crate, this test's too: both options
    /// read back as set, so it ran. (That it ran early enough shows only in peak RSS.)
    #[cfg(target_os = "linux")]
    #[test]
    fn the_allocator_is_tuned_before_main() {
        // SAFETY: reading an option has no side effect.
        let (eager, delay) = unsafe {
            (
                libmimalloc_sys::mi_option_get(ARENA_EAGER_COMMIT),
                libmimalloc_sys::mi_option_get(PURGE_DELAY),
            )
        };
        assert_eq!((eager, delay), (0, PURGE_DELAY_MS));
    }
}
