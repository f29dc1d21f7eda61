#!/usr/bin/env bash
# Refresh the vendored French State design system (DSFR) from the npm registry:
#   scripts/vendor-dsfr.sh [VERSION]      (default: the version in notifier/web/static/dsfr/VERSION)
# Copies only what the pages use: the minified CSS and JS, the Marianne fonts, the favicon,
# and the licence. Review the diff, run `make test` (axe and screenshots), commit.
set -euo pipefail
cd "$(dirname "$0")/.."
target=notifier/web/static/dsfr
version=${1:-$(cat "$target/VERSION")}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@gouvfr/dsfr@$version" >/dev/null && tar xzf gouvfr-dsfr-*.tgz)
dist="$work/package/dist"
rm -rf "$target"
mkdir -p "$target/fonts" "$target/favicon"
cp "$dist/dsfr.min.css" "$dist/dsfr.module.min.js" "$dist/dsfr.nomodule.min.js" "$target/"
cp "$dist"/fonts/Marianne-*.woff2 "$dist"/fonts/Marianne-*.woff "$target/fonts/"
cp "$dist/favicon/favicon.svg" "$dist/favicon/favicon.ico" "$dist/favicon/apple-touch-icon.png" "$target/favicon/"
cp "$work/package/LICENSE.md" "$target/LICENSE.md"
echo "$version" > "$target/VERSION"
echo "DSFR $version vendored in $target ($(du -sh "$target" | cut -f1))"
