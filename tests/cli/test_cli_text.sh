#!/usr/bin/env bash
# Text retrieval end to end: import --format text (BM25 over WordPiece) -> aftershock-build (writes vocab.h5) ->
# search --index --text / --text-file, checked against search --exact over the corpus; eval of a run; bad inputs.
# Needs the shared BERT vocabulary; exits 77 (skipped) without it.
set -euo pipefail
BIN="$1"
BUILD_BIN="$2"
VOCAB="$3"
[[ -f "$VOCAB" ]] || { echo "skip: no BERT vocabulary at $VOCAB"; exit 77; }
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cat >"$WORK/docs.jsonl" <<'J'
{"id": "a", "contents": "Time sharing systems for IBM computers."}
{"id": "b", "contents": "Compilers translate programming languages; intermediate languages help."}
{"id": "c", "contents": "Sorting algorithms: quicksort, merge sort and heap sort."}
{"id": "d", "contents": "Operating systems schedule processes on computers."}
J
printf '1\tcompilers for programming languages\n2\toperating system scheduling\n' >"$WORK/topics.tsv"
printf '1 0 b 1\n2 0 d 1\n2 0 a 1\n' >"$WORK/qrels"
"$BIN" import --format text --docs "$WORK/docs.jsonl" --queries "$WORK/topics.tsv" --out "$WORK/c.h5" \
  --vocab "$VOCAB" --stopwords english --stemmer s 2>/dev/null
"$BUILD_BIN" --corpus "$WORK/c.h5" --out "$WORK/idx" --shards 2 --lambda 100000 --alpha 1 2>/dev/null
[[ -f "$WORK/idx/vocab.h5" ]] || fail "aftershock-build did not write vocab.h5"

# The corpus' own queries, --text-file and the index all agree on the top document.
"$BIN" search --corpus "$WORK/c.h5" --exact --k 4 --out "$WORK/exact.tsv" 2>/dev/null
"$BIN" search --corpus "$WORK/c.h5" --exact --k 4 --text-file "$WORK/topics.tsv" --out "$WORK/exact_text.tsv" 2>/dev/null
cmp -s "$WORK/exact.tsv" "$WORK/exact_text.tsv" || fail "--text-file differs from the imported queries"
"$BIN" search --index "$WORK/idx" --k 4 --text-file "$WORK/topics.tsv" --query-cut 1000 --heap-factor 0 \
  --out "$WORK/index_text.tsv" 2>/dev/null
cut -f1,2 "$WORK/exact.tsv" >"$WORK/exact.ids"
cut -f1,2 "$WORK/index_text.tsv" >"$WORK/index.ids"
cmp -s "$WORK/exact.ids" "$WORK/index.ids" || fail "index text search ranks differently from the exact oracle"
"$BIN" search --index "$WORK/idx" --k 2 --text "compilers and languages" --text-mode idf --out "$WORK/one.tsv" 2>/dev/null
[[ "$(head -1 "$WORK/one.tsv" | cut -f1,2)" == "$(printf '0\tb')" ]] || fail "idf-mode text query: $(cat "$WORK/one.tsv")"
out=$("$BIN" eval --run "$WORK/exact.tsv" --qrels "$WORK/qrels")
grep -Eq '^map +[0-9.]+$' <<<"$out" && grep -Eq '^ndcg_cut_10 ' <<<"$out" || fail "eval output: $out"

expect_error() {  # expect_error PATTERN CMD...: non-zero exit without a crash, PATTERN on stderr
  local pattern="$1"; shift
  local rc=0
  "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
  [[ $rc -ne 0 && $rc -lt 128 ]] || fail "expected a clean failure (rc=$rc): $*"
  grep -q -- "$pattern" "$WORK/err" || { cat "$WORK/err" >&2; fail "error '$pattern' not reported: $*"; }
}
printf '{"id": "x"}\n' >"$WORK/bad.jsonl"
expect_error 'missing "contents"' "$BIN" import --format text --docs "$WORK/bad.jsonl" --out "$WORK/bad.h5" --vocab "$VOCAB"
[[ ! -e "$WORK/bad.h5" ]] || fail "a failed import left its output"
expect_error "text queries are sparse" "$BIN" search --corpus "$WORK/c.h5" --exact --mode dense --text "x" --out "$WORK/x.tsv"
"$BIN" gen --docs 300 --queries 5 --seed 3 --out "$WORK/gen.h5" 2>/dev/null
"$BUILD_BIN" --corpus "$WORK/gen.h5" --out "$WORK/genidx" --shards 1 2>/dev/null
[[ ! -e "$WORK/genidx/vocab.h5" ]] || fail "vocab.h5 written for a corpus without /vocab"
expect_error "no vocab.h5" "$BIN" search --index "$WORK/genidx" --text "x" --out "$WORK/x.tsv"
expect_error "no known WordPiece token" "$BIN" search --corpus "$WORK/c.h5" --exact --text "the of" --out "$WORK/x.tsv"
echo "cli text: all checks passed"
