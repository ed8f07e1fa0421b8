//! A static file server for previewing a built site on 127.0.0.1 (`leakpress serve`, and the
//! browser tests), answering like a static host: folders map to `index.html`, unknown paths to
//! `404.html` with status 404, and every answer carries the site's Content-Security-Policy and
//! `nosniff`, so a wrong type or a CSP slip shows before deployment.
//!
//! One thread per connection and one request per connection (`Connection: close`): a preview
//! serves one reader, and a connection that is never reused cannot starve another. (tiny_http
//! 0.12, used before, loses a wake-up in its thread pool when two connections open at once, and
//! a search page that loads eight index files in parallel then waited forever for two.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The longest request head read; a browser's is well under 4 KB.
const MAX_HEAD: usize = 16 * 1024;

/// Serves `dir` on `listener` until the listener fails. Each connection gets its own thread.
pub fn serve(listener: TcpListener, dir: PathBuf) -> std::io::Result<()> {
    let dir = Arc::new(dir);
    for stream in listener.incoming() {
        let stream = stream?;
        let dir = Arc::clone(&dir);
        std::thread::spawn(move || {
            // A client that goes away mid-answer is its own business.
            let _ = answer(stream, &dir);
        });
    }
    Ok(())
}

fn answer(mut stream: TcpStream, dir: &Path) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    // The whole head is capped, so a client sending one endless line cannot fill memory.
    let mut reader = BufReader::new(stream.try_clone()?.take(MAX_HEAD as u64));
    let mut first = Vec::new();
    reader.read_until(b'\n', &mut first)?;
    // Bytes, not text: a request line that is not UTF-8 gets a 400 answer, not a dropped socket.
    let request_line = String::from_utf8_lossy(&first).into_owned();
    // The rest of the head says nothing a static preview needs, but is read so the client is
    // not cut off mid-send.
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 || line == b"\r\n" || line == b"\n" {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, mime, body) = match method {
        "GET" | "HEAD" => respond(dir, target),
        _ => (
            405,
            "text/plain; charset=utf-8",
            b"only GET and HEAD".to_vec(),
        ),
    };
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Method Not Allowed",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {mime}\r\nContent-Length: {}\r\n\
         Content-Security-Policy: {}\r\nX-Content-Type-Options: nosniff\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len(),
        crate::render::CSP
    )
    .into_bytes();
    if method != "HEAD" {
        out.extend_from_slice(&body);
    }
    stream.write_all(&out)?;
    stream.flush()
}

/// Status, content type and body for a request target such as `/agency/doc/?q=x`.
pub fn respond(dir: &Path, target: &str) -> (u16, &'static str, Vec<u8>) {
    let path = target.split(['?', '#']).next().unwrap_or("/");
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    let mut file = dir.to_path_buf();
    for segment in decoded.split('/').filter(|s| !s.is_empty() && *s != ".") {
        if segment == ".." || segment.contains('\\') {
            return (400, "text/plain; charset=utf-8", b"bad path".to_vec());
        }
        file.push(segment);
    }
    if file.is_dir() {
        file.push("index.html");
    }
    let (status, file, body) = match std::fs::read(&file) {
        Ok(body) => (200, file, body),
        Err(_) => {
            let page = dir.join("404.html");
            let body = std::fs::read(&page).unwrap_or_else(|_| b"not found".to_vec());
            (404, page, body)
        }
    };
    (status, content_type(&file), body)
}

fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "pdf" => "application/pdf",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "txt" | "sha256" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(port: u16, target: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(stream, "GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        text
    }

    #[test]
    fn answers_many_connections_at_once_like_a_static_host() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a")).unwrap();
        std::fs::write(dir.path().join("a/index.html"), "<p>a</p>").unwrap();
        std::fs::write(dir.path().join("404.html"), "gone").unwrap();
        for n in 0..12 {
            std::fs::write(dir.path().join(format!("d{n}.js")), format!("x{n}")).unwrap();
        }
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let root = dir.path().to_path_buf();
        std::thread::spawn(move || serve(listener, root));

        let folder = get(port, "/a/?q=1");
        assert!(folder.starts_with("HTTP/1.1 200 OK\r\n"), "{folder}");
        assert!(folder.contains("Content-Type: text/html; charset=utf-8\r\n"));
        assert!(folder.contains("Content-Security-Policy: default-src 'none'"));
        assert!(folder.ends_with("\r\n\r\n<p>a</p>"));
        let missing = get(port, "/nothing/here");
        assert!(missing.starts_with("HTTP/1.1 404") && missing.ends_with("gone"));
        assert!(get(port, "/../etc/passwd").starts_with("HTTP/1.1 400"));
        // A head far over the cap is cut off (an answer or a reset, never a hang or a heap
        // the size of the head), and the server goes on; bytes that are not UTF-8 get an answer.
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let long = format!("GET /a/?{} HTTP/1.1\r\n\r\n", "x".repeat(4 * MAX_HEAD));
        let _ = stream.write_all(long.as_bytes());
        let _ = stream.read_to_end(&mut Vec::new());
        assert!(get(port, "/a/").ends_with("<p>a</p>"));
        assert!(get(port, "/\u{fffd}%FF\u{0}").starts_with("HTTP/1.1 404"));

        // Twelve at once, as a search page loading its index files does.
        let answers: Vec<_> = (0..12)
            .map(|n| std::thread::spawn(move || get(port, &format!("/d{n}.js"))))
            .collect();
        for (n, answer) in answers.into_iter().enumerate() {
            let text = answer.join().unwrap();
            assert!(text.ends_with(&format!("x{n}")), "{text}");
        }
    }
}
