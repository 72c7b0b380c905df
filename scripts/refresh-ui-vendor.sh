#!/usr/bin/env bash
# Refresh the third-party files of the web UI (fluvial/server/ui/vendor/) from npm.
# Usage: scripts/refresh-ui-vendor.sh   (needs npm and network access to the npm registry)
# Pinned versions below; change them here, run the script, review the diff of vendor/ and VENDOR.md.
set -euo pipefail
PREACT=10.29.8
HTM=3.1.1
UPLOT=1.6.32
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$ROOT/fluvial/server/ui/vendor"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
npm pack --silent "preact@$PREACT" "htm@$HTM" "uplot@$UPLOT" >/dev/null
for tgz in *.tgz; do mkdir -p "${tgz%.tgz}"; tar xzf "$tgz" -C "${tgz%.tgz}"; done
mkdir -p "$DEST"
cp "preact-$PREACT/package/dist/preact.module.js" "$DEST/preact.js"
# hooks import the bare specifier "preact"; without a bundler or an (inline, CSP-blocked) import map the
# browser needs a relative path.
sed 's#from"preact"#from"./preact.js"#g' "preact-$PREACT/package/hooks/dist/hooks.module.js" > "$DEST/preact-hooks.js"
cp "preact-$PREACT/package/LICENSE" "$DEST/LICENSE.preact"
cp "htm-$HTM/package/dist/htm.module.js" "$DEST/htm.js"
cp "htm-$HTM/package/LICENSE" "$DEST/LICENSE.htm"
cp "uplot-$UPLOT/package/dist/uPlot.esm.js" "$DEST/uplot.js"
cp "uplot-$UPLOT/package/dist/uPlot.min.css" "$DEST/uplot.css"
cp "uplot-$UPLOT/package/LICENSE" "$DEST/LICENSE.uplot"
# sourcemap comments point at files we do not ship
sed -i '/^\/\/# sourceMappingURL=/d; s#//\# sourceMappingURL=[^ ]*$##' "$DEST"/*.js
integrity() { echo "sha512-$(openssl dgst -sha512 -binary "$1" | base64 -w0)"; }
{
  echo "# Vendored third-party files of the web UI"
  echo
  echo "Fetched from the npm registry by \`scripts/refresh-ui-vendor.sh\`; each package keeps its licence"
  echo "(\`LICENSE.<name>\`). Integrity = npm's sha512 of the package tarball."
  echo
  echo "| package | version | licence | files | tarball integrity |"
  echo "|---|---|---|---|---|"
  echo "| preact | $PREACT | MIT | preact.js, preact-hooks.js (import path rewritten to ./preact.js) | $(integrity "preact-$PREACT.tgz") |"
  echo "| htm | $HTM | Apache-2.0 | htm.js | $(integrity "htm-$HTM.tgz") |"
  echo "| uplot | $UPLOT | MIT | uplot.js, uplot.css | $(integrity "uplot-$UPLOT.tgz") |"
  echo
  echo "File hashes (sha256):"
  echo
  (cd "$DEST" && for f in preact.js preact-hooks.js htm.js uplot.js uplot.css; do echo "- \`$f\` $(sha256sum "$f" | cut -d' ' -f1)"; done)
} > "$DEST/VENDOR.md"
echo "refreshed $DEST"
