#!/usr/bin/env bash
# Renders a dumpsig HTML report in headless Chromium, checks the rendered DOM and takes a
# screenshot.
#   scripts/check-html.sh REPORT.html SCREENSHOT.png
# Checks: the page script ran (body data-ready="1"), the bucket table has at least one row, and
# both charts (#chart-top-buckets, #chart-codes-over-time) are SVGs with bars (<rect>).
# Needs chromium (scripts/install-chromium.sh). Exits non-zero with a message on any failure.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 REPORT.html SCREENSHOT.png" >&2
    exit 2
fi
report=$1
screenshot=$2
if [ ! -f "$report" ]; then
    echo "check-html: FAIL: no such file: $report" >&2
    exit 1
fi

browser=""
for candidate in chromium chromium-browser; do
    if command -v "$candidate" >/dev/null 2>&1; then
        browser=$candidate
        break
    fi
done
if [ -z "$browser" ]; then
    echo "check-html: FAIL: chromium not found on PATH (run scripts/install-chromium.sh)" >&2
    exit 1
fi

url="file://$(cd "$(dirname "$report")" && pwd)/$(basename "$report")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(--headless=new --no-sandbox --disable-gpu --hide-scrollbars --no-first-run
    --user-data-dir="$work/profile" --virtual-time-budget=5000)

if ! timeout 120 "$browser" "${flags[@]}" --dump-dom "$url" >"$work/dom.html" 2>"$work/dom.log"; then
    echo "check-html: FAIL: chromium could not render $report:" >&2
    tail -n 20 "$work/dom.log" >&2
    exit 1
fi

failures=0
fail() {
    echo "check-html: FAIL: $1" >&2
    failures=$((failures + 1))
}

# Occurrences of $1 on stdin (0 when none: grep's status 1 must not trip `set -e`).
count() {
    { grep -o -- "$1" || true; } | wc -l
}

# The dumped DOM on one line, so that multi-line elements can be matched with grep.
tr '\n' ' ' <"$work/dom.html" >"$work/dom1.html"

grep -Eq '<body[^>]* data-ready="1"' "$work/dom1.html" ||
    fail 'body has no data-ready="1": the page script did not run or failed'

# The table body of #buckets, cut out with sed (everything between its <tbody> and </tbody>).
if grep -q '<table id="buckets"' "$work/dom1.html"; then
    sed -e 's/.*<table id="buckets"//' -e 's#</table>.*##' "$work/dom1.html" >"$work/table.html"
else
    fail 'no <table id="buckets"> in the page'
    : >"$work/table.html"
fi
rows=$(sed -e 's/.*<tbody>//' -e 's#</tbody>.*##' "$work/table.html" | count '<tr')
[ "$rows" -ge 1 ] || fail "the bucket table (#buckets) has no row in its tbody"

for chart in chart-top-buckets chart-codes-over-time; do
    if ! grep -q "<svg id=\"$chart\"" "$work/dom1.html"; then
        fail "no <svg id=\"$chart\"> in the page"
        continue
    fi
    bars=$(sed -e "s/.*<svg id=\"$chart\"//" -e 's#</svg>.*##' "$work/dom1.html" | count '<rect')
    [ "$bars" -ge 1 ] || fail "chart #$chart has no bars (<rect>)"
    echo "check-html: #$chart: $bars rect(s)"
done

if [ "$failures" -gt 0 ]; then
    echo "check-html: $failures check(s) failed for $report" >&2
    exit 1
fi
echo "check-html: DOM ok: data-ready=1, $rows bucket row(s), both charts have bars"

rm -f "$screenshot"
if ! timeout 120 "$browser" "${flags[@]}" --window-size=1400,1800 --screenshot="$screenshot" "$url" \
    >"$work/shot.log" 2>&1 || [ ! -s "$screenshot" ]; then
    echo "check-html: FAIL: chromium did not write the screenshot $screenshot:" >&2
    tail -n 20 "$work/shot.log" >&2
    exit 1
fi
echo "check-html: screenshot written to $screenshot"
echo "check-html: PASS: $report"
