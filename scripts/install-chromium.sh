#!/usr/bin/env bash
# Installs Chromium for the headless HTML report check (scripts/check-html.sh).
# Idempotent: does nothing when `chromium` or `chromium-browser` is already on PATH.
# Debian/Ubuntu only (apt-get); uses sudo when available, apt-get directly when root.
set -euo pipefail

for candidate in chromium chromium-browser; do
    if command -v "$candidate" >/dev/null 2>&1; then
        echo "install-chromium: $candidate already installed at $(command -v "$candidate"): nothing to do"
        "$candidate" --version 2>/dev/null || true
        exit 0
    fi
done

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-chromium: no chromium on PATH and no apt-get; install Chromium by hand" >&2
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    run=()
    how="apt-get (running as root)"
elif command -v sudo >/dev/null 2>&1; then
    run=(sudo)
    how="sudo apt-get"
else
    echo "install-chromium: not root and no sudo: cannot install chromium" >&2
    exit 1
fi

start=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists only when they are missing (a fresh container) or the first try fails.
if ! "${run[@]}" apt-get install -y --no-install-recommends chromium; then
    echo "install-chromium: install failed; refreshing package lists and retrying"
    "${run[@]}" apt-get update
    "${run[@]}" apt-get install -y --no-install-recommends chromium
fi
end=$(date +%s)

echo "install-chromium: installed chromium with $how in $((end - start)) s"
chromium --version
