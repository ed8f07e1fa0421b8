#!/usr/bin/env python3
"""Generates a deterministic, leak-shaped archive for benchmarks.

Usage: gen-corpus.py OUT_DIR N_DOCS [--agencies 200] [--seed 1] [--words 1800]

Writes OUT_DIR/leakpress.yaml and OUT_DIR/content/<agency>/<folder>/<doc>.md: Markdown with YAML
front matter (title, date, tags, summary), bodies of mixed length (log-normal around --words)
drawn from a Zipf-distributed vocabulary, with headings, lists and the odd table. The same
arguments always give the same bytes, so runs on different machines compare.
"""
import argparse
import math
import os
import random

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
        path = os.path.join(content, agency, folder, f"doc-{n:07d}.md")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("\n".join(lines))


if __name__ == "__main__":
    main()
