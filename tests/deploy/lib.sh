# shellcheck shell=bash
# Shared helpers of the deploy checks (sourced). Usage: source lib.sh TOOLS_DIR
set -euo pipefail
TOOLS="$(cd "$1" 2>/dev/null && pwd || echo "$1")"   # absolute: the tests cd into it
# shellcheck disable=SC2034  # used by the scripts that source this
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"   # the repository root
WORK="$(mktemp -d "${TMPDIR:-/tmp}/aftershock-deploy.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
need_tools() {
  command -v node >/dev/null || { echo "SKIP: node not found"; exit 77; }
  [ -d "$TOOLS/node_modules" ] || { echo "SKIP: validators not installed in $TOOLS (run tests/deploy/install-tools.sh)"; exit 77; }
}
# expect_fail WHAT PATTERN CMD...: CMD must fail and print PATTERN (proves the check catches the defect).
expect_fail() {
  local what="$1" pattern="$2"; shift 2
  local out
  if out=$("$@" 2>&1); then fail "$what: the validator accepted it"; fi
  grep -q -- "$pattern" <<<"$out" || fail "$what: failed without naming '$pattern': $(tail -3 <<<"$out")"
  echo "ok   negative: $what"
}
