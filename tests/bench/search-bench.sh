#!/usr/bin/env bash
# Search benchmark: leakpress's index against Pagefind's on the same generated corpus.
#
#   bash tests/bench/search-bench.sh 10000        # documents (default 10000)
#
# Builds the corpus with leakpress, gives Pagefind the same document pages, then loads both
# search clients in headless Chromium (playwright-core from tests/browser/) over a local HTTP
# server that records every file served. Prints, per query, the bytes each client fetched
# (as a server would send them: gzip for text files, Pagefind's own files as stored), the
# fixed per-reader cost (client code + manifest/metadata, paid once), the index size on disk,
# and the indexing time. Needs python3, node, chromium, npm (Pagefind comes from npm).
set -euo pipefail
docs=${1:-10000}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=${BENCH_DIR:-/tmp/leakpress-bench}
corpus="$work/corpus-$docs"
mkdir -p "$work"

if [ ! -f "$corpus/.complete" ]; then
  echo "generating $docs documents into $corpus …"
  rm -rf "$corpus"
  python3 "$here/gen-corpus.py" "$corpus" "$docs"
  touch "$corpus/.complete"
fi
if [ ! -x "$work/pagefind/node_modules/.bin/pagefind" ]; then
  npm install --prefix "$work/pagefind" pagefind@1.6.0 --no-audit --no-fund --loglevel=error
fi
if [ ! -d "$repo/tests/browser/node_modules/playwright-core" ]; then
  npm ci --prefix "$repo/tests/browser" --no-audit --no-fund --loglevel=error
fi

profile=${PROFILE:-debug}
if [ "$profile" = release ]; then
  (cd "$repo" && cargo build --release --quiet)
else
  (cd "$repo" && cargo build --quiet)
fi
leakpress="$repo/target/$profile/leakpress"

lp_out="$work/search-lp-$docs"
pf_site="$work/search-pf-$docs"
rm -rf "$lp_out" "$pf_site"
/usr/bin/time -f "%e %M" -o "$work/time-lp" "$leakpress" --root "$corpus" build --out "$lp_out" --timings >"$work/log-lp" 2>&1

# Pagefind indexes the same document pages (not the listings): <agency>/<doc>/index.html.
for agency in "$corpus"/content/*/; do
  agency=$(basename "$agency")
  [ -d "$lp_out/$agency" ] || continue
  for page in "$lp_out/$agency"/*/index.html; do
    doc=$(basename "$(dirname "$page")")
    case $doc in page|oldest|title) continue ;; esac
    mkdir -p "$pf_site/$agency/$doc"
    cp "$page" "$pf_site/$agency/$doc/index.html"
  done
done
/usr/bin/time -f "%e %M" -o "$work/time-pf" "$work/pagefind/node_modules/.bin/pagefind" --site "$pf_site" >"$work/log-pf" 2>&1

read -r lp_wall lp_rss < "$work/time-lp"
read -r pf_wall pf_rss < "$work/time-pf"
lp_index=$(du -sk "$lp_out/search" | cut -f1)
pf_index=$(du -sk "$pf_site/pagefind" | cut -f1)
lp_files=$(find "$lp_out/search" -type f | wc -l)
pf_files=$(find "$pf_site/pagefind" -type f | wc -l)
printf '\n%s documents (%s of Markdown)\n' "$docs" "$(du -sh "$corpus/content" | cut -f1)"
printf '%-10s %14s %12s %16s\n' index disk_KB files build_s
printf '%-10s %14s %12s %16s\n' leakpress "$lp_index" "$lp_files" "$lp_wall (whole site, $profile)"
printf '%-10s %14s %12s %16s\n' pagefind "$pf_index" "$pf_files" "$pf_wall (index only)"
grep -E '^\s+index\s' "$work/log-lp" || true

NODE_PATH="$repo/tests/browser/node_modules" node "$here/search-bench.mjs" "$lp_out" "$pf_site" "$corpus"
