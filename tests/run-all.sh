#!/usr/bin/env bash
# Runs every test: Rust unit and integration tests, the search client's unit tests, and the
# browser tests in headless Chromium. Installs what is missing first: Debian's chromium (needs
# root and apt) and the browser-test driver (playwright-core, from npm into tests/browser/).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Chromium for the browser tests…"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "error: the browser tests need Chromium: install Debian's 'chromium' package" >&2
    exit 1
  fi
fi
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
fi

status=0
node --test tests/search-client/ || status=1
cargo test --all-targets --no-fail-fast || status=1
exit $status
