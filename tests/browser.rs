//! The browser tests: each builds an archive (normal and `--offline`), serves the normal build
//! on 127.0.0.1 and runs a driver script under `tests/browser/` that browses both builds in
//! headless Chromium (over http and from `file://`) and fails on console errors, page errors,
//! dialogs, failed requests and any request that leaves the machine.
//! - the bundled sample archive: `run.mjs` (browsing, listings, every kind, search, 404);
//! - the hostile fixture (`tests/fixtures/hostile/`): `hostile.mjs` opens every page of it.
//!
//! Needs Debian's Chromium and the driver's node modules; `bash tests/run-all.sh` installs both.
//! `LEAKPRESS_SKIP_BROWSER=1` skips them (loudly); `LEAKPRESS_CHROMIUM` names another Chromium.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use leakpress::{BuildOptions, Fate, Output};

/// A whole node run (Chromium start and every flow) must finish within this; the drivers
/// time themselves out earlier, with their transcript.
const DRIVER_TIMEOUT: Duration = Duration::from_secs(300);

/// One Chromium at a time: the tests run in parallel threads, and two browsers on a small CI
/// machine make every wait flaky.
static ONE_BROWSER: Mutex<()> = Mutex::new(());

#[test]
fn browse_and_search_the_sample_archive_in_chromium() {
    if skipped() {
        return;
    }
    let _browser = ONE_BROWSER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let repo = common::sample_root();
    let started = Instant::now();
    let online = tempfile::tempdir().expect("temp dir");
    let offline = tempfile::tempdir().expect("temp dir");
    build(&repo, &online.path().join("site"), false);
    build(&repo, &offline.path().join("site"), true);
    let built = started.elapsed();
    run_driver(
        "run.mjs",
        &[],
        &online.path().join("site"),
        &offline.path().join("site"),
        built,
    );
}

/// See: issue #3 ("a browser test loading those pages must see no dialog, no network request
/// off the machine, no console error from the page"). Every page built from the hostile
/// fixture, and every published file a browser would open as text, is opened from both builds.
#[test]
fn every_hostile_page_is_inert_in_chromium() {
    if skipped() {
        return;
    }
    let _browser = ONE_BROWSER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // Built from a copy: the fixture folder stays as committed.
    let archive = common::copy_archive(&common::fixture("hostile"));
    let started = Instant::now();
    let online = tempfile::tempdir().expect("temp dir");
    let offline = tempfile::tempdir().expect("temp dir");
    let report = build(archive.path(), &online.path().join("site"), false);
    build(archive.path(), &offline.path().join("site"), true);
    let built = started.elapsed();

    // Pages whose source had remote images must show their placeholders.
    let with_placeholders: Vec<String> = report
        .files
        .iter()
        .filter(|(source, _)| {
            report
                .warnings_for(source)
                .any(|w| w.message.contains("remote image"))
        })
        .filter_map(|(_, fate)| match fate {
            Fate::Page { url, .. } => Some(format!("{url}index.html")),
            _ => None,
        })
        .collect();
    assert!(
        with_placeholders.len() >= 4,
        "the fixture's remote images went unreported: {with_placeholders:?}"
    );
    let mut pages = Vec::new();
    for entry in walkdir::WalkDir::new(online.path().join("site")).sort_by_file_name() {
        let entry = entry.expect("walk the site");
        let rel = entry
            .path()
            .strip_prefix(online.path().join("site"))
            .expect("inside the site")
            .to_string_lossy()
            .replace('\\', "/");
        // HTML pages, and the published text files a reader's browser would show (the
        // neutralised `.html.txt`/`.svg.txt` originals and attachments among them).
        if rel.ends_with(".html") || rel.ends_with(".txt") {
            let placeholders = with_placeholders.contains(&rel);
            pages.push(serde_json::json!({ "path": rel, "placeholders": placeholders }));
        }
    }
    assert!(
        pages.len() > 20,
        "too few pages to be the whole fixture: {pages:?}"
    );
    // Reaching a neutralised original by its link, the way a reader does.
    let evil = match report.fate("hostile-agency/web/evil.html") {
        Some(Fate::Page { url, .. }) => url.clone(),
        other => panic!("evil.html: {other:?}"),
    };
    let plan = serde_json::json!({
        "pages": pages,
        "clicks": [{ "page": format!("{evil}index.html"), "target": format!("{evil}evil.html.txt") }],
    });
    let plan_file = online.path().join("pages.json");
    std::fs::write(&plan_file, plan.to_string()).expect("write the page list");
    run_driver(
        "hostile.mjs",
        &[
            "--pages".to_owned(),
            plan_file.to_string_lossy().into_owned(),
        ],
        &online.path().join("site"),
        &offline.path().join("site"),
        built,
    );
}

fn skipped() -> bool {
    if std::env::var("LEAKPRESS_SKIP_BROWSER").as_deref() != Ok("1") {
        return false;
    }
    // Straight to stderr, past the test harness's capture, so a skip is never quiet.
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
         !!  LEAKPRESS_SKIP_BROWSER=1: the browser test was SKIPPED, not passed.     !!\n\
         !!  Run `bash tests/run-all.sh` (without it) to test the site in Chromium.   !!\n\
         !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
    );
    true
}

/// Serves `online`, runs `tests/browser/<script>` on it and on `offline` (with `args`), prints
/// its transcript and fails the test if it fails or outlives [`DRIVER_TIMEOUT`].
fn run_driver(script: &str, args: &[String], online: &Path, offline: &Path, built: Duration) {
    let repo = common::sample_root();
    let driver_dir = repo.join("tests/browser");
    check_prerequisites(&driver_dir);
    let started = Instant::now();
    let server = Server::start(online.to_path_buf());
    let http_url = format!("http://127.0.0.1:{}/", server.port);
    let file_url = file_url(offline);

    let mut child = Command::new("node")
        .arg(driver_dir.join(script))
        .args(["--http", &http_url, "--file", &file_url])
        .args(args)
        .current_dir(&repo)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run node");
    let stdout = drain(child.stdout.take().expect("stdout"));
    let stderr = drain(child.stderr.take().expect("stderr"));
    let deadline = Instant::now() + DRIVER_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = stdout.join().expect("stdout reader");
    let stderr = stderr.join().expect("stderr reader");
    println!("{stdout}");
    if !stderr.trim().is_empty() {
        println!("--- stderr ---\n{stderr}");
    }
    println!(
        "built both sites in {:.1} s; {script} ran {:.1} s",
        built.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    match status {
        None => panic!(
            "the browser driver did not finish within {} s (its output is above)",
            DRIVER_TIMEOUT.as_secs()
        ),
        Some(status) => assert!(
            status.success(),
            "the browser test failed ({status}): see the transcript above"
        ),
    }
}

/// Fails with what to run when Chromium, node or the driver's modules are missing: a missing
/// tool must never look like a passing test.
fn check_prerequisites(driver_dir: &Path) {
    let chromium = std::env::var_os("LEAKPRESS_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    let mut missing = Vec::new();
    if !chromium.is_file() {
        missing.push(format!(
            "Chromium at {} (Debian's `chromium` package)",
            chromium.display()
        ));
    }
    if Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
    {
        missing.push("node (Node.js 20 or newer)".to_owned());
    }
    if !driver_dir.join("node_modules/playwright-core").is_dir() {
        missing.push(format!(
            "{}/node_modules/playwright-core (`npm ci --prefix tests/browser`)",
            driver_dir.display()
        ));
    }
    assert!(
        missing.is_empty(),
        "the browser test cannot run; missing:\n  - {}\n\
         Run `bash tests/run-all.sh`, which installs them (as root, with apt and npm), \
         or set LEAKPRESS_SKIP_BROWSER=1 to skip this test knowingly.",
        missing.join("\n  - ")
    );
}

fn build(root: &Path, out_dir: &Path, offline: bool) -> leakpress::Report {
    let mut options = BuildOptions::new(root);
    options.out_dir = out_dir.to_path_buf();
    options.offline = offline;
    let out = Output::disk(out_dir).expect("output folder");
    leakpress::build(&options, &out, &|_| {}).unwrap_or_else(|err| {
        panic!(
            "building {} (offline={offline}) failed: {err}",
            root.display()
        )
    })
}

/// `file:///…/` for a folder, percent-encoded.
fn file_url(dir: &Path) -> String {
    const PATH: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    let dir = dir.canonicalize().expect("canonical path");
    let text = dir.to_str().expect("UTF-8 temp path");
    format!(
        "file://{}/",
        percent_encoding::utf8_percent_encode(text, PATH)
    )
}

fn drain(mut from: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = from.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// The site served on an ephemeral 127.0.0.1 port by the same server as `leakpress serve`
/// (CSP and `nosniff` on every answer, `404.html` for unknown paths). It runs until the test
/// process exits.
struct Server {
    port: u16,
}

impl Server {
    fn start(dir: PathBuf) -> Server {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
        let port = listener.local_addr().expect("a local address").port();
        std::thread::spawn(move || leakpress::serve::serve(listener, dir));
        Server { port }
    }
}
