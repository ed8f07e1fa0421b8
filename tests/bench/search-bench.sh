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
# PAGEFIND=0 measures leakpress alone; LEAKPRESS_BIN runs a prebuilt binary; FILES=1 lists
# every index file each query read, with its gzip and raw size.
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
with_pagefind=${PAGEFIND:-1}
if [ "$with_pagefind" != 0 ] && [ ! -x "$work/pagefind/node_modules/.bin/pagefind" ]; then
  npm install --prefix "$work/pagefind" pagefind@1.6.0 --no-audit --no-fund --loglevel=error
fi
if [ ! -d "$repo/tests/browser/node_modules/playwright-core" ]; then
  npm ci --prefix "$repo/tests/browser" --no-audit --no-fund --loglevel=error
fi

# LEAKPRESS_BIN names a prebuilt binary; otherwise this checkout is built (PROFILE=release
# for timings that mean anything).
profile=${PROFILE:-debug}
leakpress=${LEAKPRESS_BIN:-}
if [ -z "$leakpress" ]; then
  if [ "$profile" = release ]; then
    (cd "$repo" && cargo build --release --quiet)
  else
    (cd "$repo" && cargo build --quiet)
  fi
  leakpress="$repo/target/$profile/leakpress"
else
  profile="prebuilt $(basename "$leakpress")"
fi

lp_out="$work/search-lp-$docs"
pf_site="$work/search-pf-$docs"
# Old outputs are moved aside and deleted after the measurements: on ext4 a file created just
# after many were deleted costs a scan of the recently freed inodes, which would be timed.
trash="$work/trash-$$"
mkdir -p "$trash"
trap 'rm -rf "$trash"' EXIT
for old in "$lp_out" "$pf_site" "$corpus/.leakpress-cache"; do
  if [ -e "$old" ]; then mv "$old" "$trash/"; fi
done
/usr/bin/time -f "%e %M" -o "$work/time-lp" "$leakpress" --root "$corpus" build --out "$lp_out" --timings >"$work/log-lp" 2>&1

# Pagefind indexes the same document pages (not the listings): <agency>/<doc>/index.html.
if [ "$with_pagefind" != 0 ]; then
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
fi

read -r lp_wall lp_rss < "$work/time-lp"
lp_index=$(du -sk "$lp_out/search" | cut -f1)
lp_files=$(find "$lp_out/search" -type f | wc -l)
# The index's own time: what the render threads spent tokenizing and storing (summed over
# threads, so divided by the thread count) plus the `index` stage that scores and writes it.
threads=$(nproc)
lp_search=$(awk '$1 == "search" {print $2}' "$work/log-lp")
lp_stage=$(awk '$1 == "index" {print $2}' "$work/log-lp")
lp_index_s=$(awk -v a="$lp_search" -v b="$lp_stage" -v t="$threads" 'BEGIN {printf "%.2f", a / t + b}')
printf '\n%s documents (%s of Markdown)\n' "$docs" "$(du -sh "$corpus/content" | cut -f1)"
printf '%-10s %10s %8s %10s %12s %14s\n' index disk_KB files index_s peak_RSS_MB note
printf '%-10s %10s %8s %10s %12s %14s\n' leakpress "$lp_index" "$lp_files" "$lp_index_s" "$((lp_rss / 1024))" \
  "whole site $lp_wall s ($profile); RSS of the whole build"
if [ "$with_pagefind" != 0 ]; then
  read -r pf_wall pf_rss < "$work/time-pf"
  pf_index=$(du -sk "$pf_site/pagefind" | cut -f1)
  pf_files=$(find "$pf_site/pagefind" -type f | wc -l)
  printf '%-10s %10s %8s %10s %12s %14s\n' pagefind "$pf_index" "$pf_files" "$pf_wall" "$((pf_rss / 1024))" "index only"
  awk -v a="$lp_index_s" -v b="$pf_wall" -v c="$lp_rss" -v d="$pf_rss" \
    'BEGIN {printf "leakpress / pagefind: index time %.3fx, peak RSS %.3fx (whole build against index only)\n", a / b, c / d}'
fi
grep -E '^\s+(index|search)\s' "$work/log-lp" || true

NODE_PATH="$repo/tests/browser/node_modules" node "$here/search-bench.mjs" "$lp_out" "$pf_site" "$corpus"
