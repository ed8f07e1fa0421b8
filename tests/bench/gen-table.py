#!/usr/bin/env python3
"""Writes a one-agency archive with a big BlueLeaks-shaped table, for measuring the table pass.

    python3 tests/bench/gen-table.py /tmp/table-bench 500000
    /usr/bin/time -v target/release/leakpress build --root /tmp/table-bench

Rows are deterministic (no randomness), about 200 bytes each: ids, titles, two-digit-year
dates with AM/PM, a category join, an attachment name (every 50th exists), text with literal \\n.
"""
import csv, os, sys

root = sys.argv[1] if len(sys.argv) > 1 else "/tmp/table-bench"
rows = int(sys.argv[2]) if len(sys.argv) > 2 else 500_000
agency = os.path.join(root, "content", "bench-fusion-center")
os.makedirs(os.path.join(agency, "files", "DDF"), exist_ok=True)
with open(os.path.join(root, "leakpress.yaml"), "w") as f:
    f.write('title: "Table benchmark"\npage_size: 50\n')
with open(os.path.join(root, "tables.yaml"), "w") as f:
    f.write("""tables:
  Documents:
    id: DocumentID
    title: DocumentTitle
    date: DateCreated
    summary: Description
    fields: { FileName: attachment, Body: html }
  DocumentCategory:
    id: DocumentCategoryID
    title: CategoryName
joins:
  - Documents.DocumentCategoryID -> DocumentCategory.DocumentCategoryID
""")
for i in range(0, 100):
    with open(os.path.join(agency, "files", "DDF", f"Bulletin {i * 50}.txt"), "w") as f:
        f.write(f"Bulletin {i * 50} (fictional)\n")
with open(os.path.join(agency, "DocumentCategory.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["DocumentCategoryID", "CategoryName"])
    for c in range(1, 21):
        w.writerow([c, f"Category {c}"])
with open(os.path.join(agency, "Documents.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["DocumentID", "DocumentTitle", "DocumentCategoryID", "DateCreated", "FileName", "Description", "Body"])
    for n in range(rows):
        month, day, year = n % 12 + 1, n % 28 + 1, 10 + n % 11
        hour = n % 12 + 1
        ampm = "AM" if n % 2 else "PM"
        w.writerow([
            100000 + n,
            f"Situational awareness bulletin {n}",
            n % 20 + 1,
            f"{month:02}/{day:02}/{year:02} {hour}:{n % 60:02}:00 {ampm}",
            f"DDF\\Bulletin {n}.txt" if n < 5000 else "",
            f"Weekend gatherings expected near site {n % 97}.\\nNo specific threat is known.",
            f"<p>Partners, see bulletin <b>{n}</b>.</p>",
        ])
print(f"wrote {rows} rows under {root}")
