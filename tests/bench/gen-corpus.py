#!/usr/bin/env python3
"""Generates a deterministic, leak-shaped archive for benchmarks.

Usage: gen-corpus.py OUT_DIR N_DOCS [--agencies 200] [--seed 1] [--words 1800] [--mix 0.0]

Writes OUT_DIR/leakpress.yaml and OUT_DIR/content/<agency>/<folder>/<doc>.md: Markdown with YAML
front matter (title, date, tags, summary), bodies of mixed length (log-normal around --words)
drawn from a Zipf-distributed vocabulary, with headings, lists and the odd table. The same
arguments always give the same bytes, so runs on different machines compare.

--mix F writes that share of the documents in the other formats a leak holds instead (mail,
hostile HTML, text in UTF-8 or Windows-1252, PDF, DOCX, CSV tables of two-digit-year records
whose cells name attachments, PNG images, opaque binaries), for measuring leakpress on a
BlueLeaks-like mix. Without it the corpus is Markdown only, as Hugo needs, and its bytes are
what they were before the option existed.
"""
import argparse
import datetime
import io
import math
import os
import random
import struct
import zipfile
import zlib

SYLLABLES = ["ka", "lo", "mi", "ne", "ra", "tu", "si", "ve", "do", "pa", "gri", "mon", "sta",
             "tel", "quar", "ben", "fos", "hal", "jin", "wex", "zor", "bly", "cre", "dun"]
KINDS = ["fusion center", "police department", "sheriff's office", "HIDTA", "task force",
         "state bureau", "transit police", "district attorney"]
FOLDERS = ["bulletins", "memos", "sar", "meetings", "training", "press", "reports"]


def vocabulary(rng, size):
    words = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4))))
    return sorted(words)


def zipf_words(rng, vocab, s=1.07):
    """A function giving k words drawn from a Zipf distribution over vocab."""
    cumulative, acc = [], 0.0
    for k in range(1, len(vocab) + 1):
        acc += 1.0 / (k ** s)
        cumulative.append(acc)

    def words(k):
        return rng.choices(vocab, cum_weights=cumulative, k=k)
    return words


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("docs", type=int)
    parser.add_argument("--agencies", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--words", type=int, default=1800)
    parser.add_argument("--mix", type=float, default=0.0,
                        help="share of documents in formats other than Markdown")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    vocab = vocabulary(rng, 50_000)
    words = zipf_words(rng, vocab)
    tags = vocab[200:260]
    content = os.path.join(args.out, "content")
    os.makedirs(content, exist_ok=True)
    with open(os.path.join(args.out, "leakpress.yaml"), "w") as f:
        f.write('title: "Generated leak"\ndescription: "A generated benchmark corpus."\n'
                'base_url: "https://bench.example.org/"\npage_size: 50\n')
    agencies = [f"agency-{i:03d}-{vocab[1000 + i]}" for i in range(args.agencies)]
    # Per agency, the attachments written so far, for tables' cells and mail replies to name.
    attachments = {agency: {"pdf": [], "eml": []} for agency in agencies}
    for i, agency in enumerate(agencies):
        os.makedirs(os.path.join(content, agency), exist_ok=True)
        with open(os.path.join(content, agency, "_agency.yaml"), "w") as f:
            f.write(f'name: "{vocab[1000 + i].title()} {KINDS[i % len(KINDS)].title()}"\n'
                    f'kind: "{KINDS[i % len(KINDS)]}"\nstate: "ZZ"\n')

    for n in range(args.docs):
        # Agencies get Zipf-ish shares of the documents, as in a real dump.
        agency = agencies[min(int(rng.paretovariate(1.2)) - 1, args.agencies - 1) if n % 2 else n % args.agencies]
        folder = rng.choice(FOLDERS)
        year = rng.randint(2010, 2020)
        date = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        # Log-normal lengths whose mean is --words.
        length = max(30, int(rng.lognormvariate(math.log(args.words) - 0.18, 0.6)))
        title_words = " ".join(words(rng.randint(3, 9))).capitalize()
        doc_tags = sorted(set(rng.choice(tags) for _ in range(rng.randint(0, 4))))
        lines = ["---", f'title: "{title_words}"', f"date: {date}",
                 f"tags: [{', '.join(doc_tags)}]",
                 f'summary: "{" ".join(words(15))}"', "---", ""]
        written = 0
        while written < length:
            roll = rng.random()
            if roll < 0.08:
                lines.append("## " + " ".join(words(rng.randint(2, 6))).capitalize())
            elif roll < 0.14:
                for _ in range(rng.randint(2, 5)):
                    lines.append("- " + " ".join(words(rng.randint(4, 12))))
                    written += 8
            elif roll < 0.16:
                lines.append("| case | status | unit |")
                lines.append("|---|---|---|")
                for _ in range(rng.randint(2, 6)):
                    lines.append(f"| {year}-{rng.randint(100000, 999999)} | {' | '.join(words(2))} |")
                    written += 3
            else:
                count = rng.randint(30, 120)
                lines.append(" ".join(words(count)).capitalize() + ".")
                written += count
            lines.append("")
        # Drawn after the Markdown so that --mix 0 draws nothing more.
        if args.mix > 0 and rng.random() < args.mix:
            kind = rng.choices(MIX_KINDS, weights=MIX_WEIGHTS)[0]
            path, data = mixed_document(rng, words, kind, n, agency, folder, date,
                                        title_words, lines, attachments)
            path = os.path.join(content, agency, path)
        else:
            path = os.path.join(content, agency, folder, f"doc-{n:07d}.md")
            data = "\n".join(lines).encode()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)


MIX_KINDS = ["eml", "html", "txt", "pdf", "docx", "csv", "png", "dat"]
MIX_WEIGHTS = [30, 15, 15, 12, 8, 6, 8, 6]


def plain_text(lines):
    """The Markdown body's words without its markup (front matter dropped)."""
    body = lines[lines.index("---", 1) + 1:]
    out = []
    for line in body:
        line = line.lstrip("#- ").replace("|", " ").strip()
        if line and not set(line) <= set("- "):
            out.append(line)
    return out


def rfc2822(date, rng):
    day = datetime.datetime(int(date[:4]), int(date[5:7]), int(date[8:10]),
                            rng.randint(6, 22), rng.randint(0, 59), rng.randint(0, 59))
    return day.strftime("%a, %d %b %Y %H:%M:%S -0500")


def mixed_document(rng, words, kind, n, agency, folder, date, title, lines, attachments):
    """A document of `kind`: its path below the agency folder, and its bytes."""
    paragraphs = plain_text(lines)
    host = agency.split("-", 2)[2] + ".example.gov"
    if kind == "eml":
        sender = f"{' '.join(words(2)).title()} <{words(1)[0]}@{host}>"
        to = f"{words(1)[0]}@{rng.choice(['fusion', 'hidta', 'pd'])}.example.gov"
        head = [f"From: {sender}", f"To: {to}", f"Subject: {title}", f"Date: {rfc2822(date, rng)}",
                f"Message-ID: <doc-{n:07d}@{host}>", "MIME-Version: 1.0"]
        earlier = attachments[agency]["eml"]
        if earlier and rng.random() < 0.3:
            head[2] = f"Subject: RE: {title}"
            head.append(f"In-Reply-To: <{rng.choice(earlier)}@{host}>")
        earlier.append(f"doc-{n:07d}")
        text = "\r\n\r\n".join(paragraphs)
        if rng.random() < 0.3:
            # Mail as it arrives: an HTML part with a tracking pixel and a script.
            html = ("<html><body><script>fetch('https://track.example.net/o?id=" + str(n) +
                    "')</script><img src=\"https://track.example.net/p.gif\" width=1 height=1>" +
                    "".join(f"<p onclick=\"steal()\">{p}</p>" for p in paragraphs) + "</body></html>")
            head.append('Content-Type: multipart/alternative; boundary="b' + str(n) + '"')
            body = (f"--b{n}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
                    f"--b{n}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n--b{n}--\r\n")
        else:
            head.append("Content-Type: text/plain; charset=utf-8")
            body = text + "\r\n"
        return f"email/doc-{n:07d}.eml", ("\r\n".join(head) + "\r\n\r\n" + body).encode()
    if kind == "html":
        page = ("<!doctype html><html><head><title>" + title + "</title>"
                "<script src=\"https://cdn.example.net/analytics.js\"></script>"
                "<link rel=\"stylesheet\" href=\"https://cdn.example.net/site.css\"></head>"
                "<body onload=\"init()\"><h1>" + title + "</h1>"
                "<img src=\"https://cdn.example.net/banner.png\" alt=\"banner\">"
                + "".join(f"<p>{p}</p>" for p in paragraphs) +
                "<form action=\"https://portal.example.net/login\"><input name=\"user\"></form>"
                "<a href=\"javascript:alert(1)\">portal</a></body></html>")
        return f"web/doc-{n:07d}.html", page.encode()
    if kind == "txt":
        text = title + "\n\n" + "\n\n".join(paragraphs) + "\n"
        if rng.random() < 0.2:
            # Old exports: Windows-1252, which the reader must detect.
            return f"{folder}/doc-{n:07d}.txt", ("Caf\u00e9 r\u00e9sum\u00e9 \u2013 " + text).encode("cp1252")
        return f"{folder}/doc-{n:07d}.txt", text.encode()
    if kind == "pdf":
        attachments[agency]["pdf"].append(f"doc-{n:07d}.pdf")
        return f"files/DDF/doc-{n:07d}.pdf", pdf(title, date, paragraphs)
    if kind == "docx":
        return f"{folder}/doc-{n:07d}.docx", docx(title, date, paragraphs)
    if kind == "csv":
        return f"tables/Documents-{n:07d}.csv", csv_table(rng, words, n, attachments[agency]["pdf"])
    if kind == "png":
        return f"images/doc-{n:07d}.png", png(rng)
    return f"files/doc-{n:07d}.dat", rng.randbytes(rng.randint(1, 64) << 10)


def pdf_escape(text):
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def pdf(title, date, paragraphs):
    """A PDF of Helvetica text, up to ten pages of 60 lines, with a title and date in its
    document information."""
    wrapped = [title, ""]
    for p in paragraphs:
        line = ""
        for word in p.split():
            if len(line) + len(word) > 90:
                wrapped.append(line)
                line = ""
            line = f"{line} {word}" if line else word
        wrapped += [line, ""]
    pages = [wrapped[i:i + 60] for i in range(0, min(len(wrapped), 600), 60)]
    objects = ["<< /Type /Catalog /Pages 2 0 R >>",
               "<< /Type /Pages /Kids [" + " ".join(f"{5 + 2 * i} 0 R" for i in range(len(pages))) +
               f"] /Count {len(pages)} >>",
               "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
               f"<< /Title ({pdf_escape(title)}) /CreationDate (D:{date.replace('-', '')}090000) >>"]
    for i, page in enumerate(pages):
        stream = "BT /F1 10 Tf 12 TL 50 760 Td " + " ".join(f"({pdf_escape(l)}) Tj T*" for l in page) + " ET"
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {6 + 2 * i} 0 R "
                       "/Resources << /Font << /F1 3 0 R >> >> >>")
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(f"{i} 0 obj\n{body}\nendobj\n".encode("latin-1"))
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 4 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def docx(title, date, paragraphs):
    """A DOCX: the parts Word needs, the paragraphs, and a title in its core properties."""
    def esc(text):
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    parts = {
        "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>',
        "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/></Relationships>',
        "docProps/core.xml": '<?xml version="1.0" encoding="UTF-8"?><cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:title>' + esc(title) + '</dc:title><dcterms:created xsi:type="dcterms:W3CDTF">' + date + 'T09:00:00Z</dcterms:created></cp:coreProperties>',
        "word/document.xml": '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>' + "".join(f"<w:p><w:r><w:t>{esc(p)}</w:t></w:r></w:p>" for p in [title] + paragraphs) + "</w:body></w:document>",
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, text in parts.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, text)
    return out.getvalue()


def csv_table(rng, words, n, pdfs):
    """A database export as BlueLeaks has them: ids, two-digit-year dates with AM/PM, text
    with literal \\n, and attachment cells in Windows paths, some naming a PDF that exists."""
    rows = ["DocumentID,DocumentTitle,DateCreated,Description,FileName"]
    for r in range(rng.randint(10, 120)):
        stamp = (f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{rng.randint(10, 20)} "
                 f"{rng.randint(1, 12)}:{rng.randint(0, 59):02d}:00 {rng.choice(['AM', 'PM'])}")
        text = " ".join(words(rng.randint(8, 40))) + "\\n" + " ".join(words(rng.randint(4, 20)))
        name = f"DDF\\{rng.choice(pdfs)}" if pdfs and rng.random() < 0.3 else f"DDF\\missing-{r}.pdf"
        rows.append(f'{n * 1000 + r},"{" ".join(words(4)).capitalize()}",{stamp},"{text}",{name}')
    return ("\r\n".join(rows) + "\r\n").encode()


def png(rng):
    """A small RGB image, a gradient in colours drawn from `rng`."""
    width, height = 96, 64
    r0, g0, b0 = rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255)
    raw = bytearray()
    for y in range(height):
        raw += b"\0"
        for x in range(width):
            raw += bytes(((r0 + x) % 256, (g0 + y * 2) % 256, (b0 + x + y) % 256))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(bytes(raw), 6)) + chunk(b"IEND", b""))


if __name__ == "__main__":
    main()
