#!/usr/bin/env bash
# Installs the pinned npm validators (tools/package-lock.json) into DIR: `npm ci`, skipped when DIR already
# holds this lock file's install. Exit 77 (skip) without npm; any npm failure is an error.
# Usage: install-tools.sh DIR
set -euo pipefail
src="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="$1"
command -v npm >/dev/null || { echo "SKIP: npm not found (scripts/test.sh installs nodejs)"; exit 77; }
mkdir -p "$dir/validators"
cp "$src"/validators/* "$dir/validators/"
if cmp -s "$src/tools/package-lock.json" "$dir/.installed-lock.json" && [ -d "$dir/node_modules" ]; then
  exit 0
fi
cp "$src/tools/package.json" "$src/tools/package-lock.json" "$dir/"
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || { echo "FAIL: npm ci in $dir failed" >&2; exit 1; }
cp "$src/tools/package-lock.json" "$dir/.installed-lock.json"
echo "deploy validators installed in $dir"
