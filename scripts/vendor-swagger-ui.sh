#!/usr/bin/env bash
# Refresh the vendored Swagger UI that /docs serves (so it works without internet) from the
# npm registry:
#   scripts/vendor-swagger-ui.sh [VERSION]   (default: notifier/web/static/swagger-ui/VERSION)
# Copies only what /docs uses: the bundle, its CSS and the licences (the source maps' links
# are dropped: nothing serves them). Review the diff, run tests/test_api_docs.py, commit.
set -euo pipefail
cd "$(dirname "$0")/.."
target=notifier/web/static/swagger-ui
version=${1:-$(cat "$target/VERSION")}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "swagger-ui-dist@$version" >/dev/null && tar xzf swagger-ui-dist-*.tgz)
dist="$work/package"
rm -rf "$target"
mkdir -p "$target"
cp "$dist/swagger-ui-bundle.js" "$dist/swagger-ui-bundle.js.LICENSE.txt" "$dist/swagger-ui.css" \
  "$dist/LICENSE" "$dist/NOTICE" "$target/"
sed -i '/^\/\/# sourceMappingURL=/d' "$target/swagger-ui-bundle.js"
sed -i 's|/\*# sourceMappingURL=[^*]*\*/||' "$target/swagger-ui.css"
echo "$version" > "$target/VERSION"
echo "Swagger UI $version vendored in $target ($(du -sh "$target" | cut -f1))"
