#!/usr/bin/env bash
# Debian's chromium for the browser tests (Playwright's own browser download is not used), and a
# Japanese font so that screenshots of the Japanese UI are legible.
set -euo pipefail
have_font() { fc-list :lang=ja 2>/dev/null | grep -q .; }
if command -v chromium >/dev/null 2>&1 && have_font; then exit 0; fi
if [ "$(id -u)" != "0" ]; then
  echo "chromium or a Japanese font is missing and this is not root: install Debian's 'chromium' and" \
       "'fonts-ipafont-gothic' packages; browser tests will be skipped without chromium" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq chromium fonts-ipafont-gothic >/dev/null
echo "installed $(chromium --version)"
