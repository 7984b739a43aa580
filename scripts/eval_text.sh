#!/usr/bin/env bash
# BM25 over WordPiece on CACM and Cranfield: import --format text, exact top-1000 search, trec_eval-style
# MAP / nDCG@10 / P@30 (docs/BENCHMARKS.md "Text collections"). Usage: scripts/eval_text.sh [BUILD_DIR] [DATA_DIR]
# Extra import flags (e.g. "--k1 1.2 --b 0.75") can be passed in $IMPORT_FLAGS; default: the documented setup.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${1:-$ROOT/build}/bin/aftershock"
DATA="${2:-$ROOT/../shared/data}"
FLAGS="${IMPORT_FLAGS:---stopwords english --stemmer s}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export AFTERSHOCK_BERT_VOCAB="$DATA/bert_vocab_npm/vocab.json"

# shellcheck disable=SC2086
"$BIN" import --format text --docs "$DATA/cacm/cacm.tar.gz" --queries "$DATA/cacm/topics.cacm.txt" \
  --out "$WORK/cacm.h5" $FLAGS 2>/dev/null
"$BIN" search --corpus "$WORK/cacm.h5" --exact --k 1000 --out "$WORK/cacm.tsv" 2>/dev/null
echo "== CACM ($FLAGS)"
"$BIN" eval --run "$WORK/cacm.tsv" --qrels "$DATA/cacm/qrels.cacm.txt" 2>/dev/null

# cranqrel: "qid docid code", code 1 (complete answer) .. 4 (minimum interest), -1 (no interest). TREC graded
# relevance wants larger = better: gain 5 - code for 1..4, and -1 becomes 0 (judged, not relevant).
awk '{ rel = ($3 == -1) ? 0 : 5 - $3; print $1, 0, $2, rel }' "$DATA/cranfield/cranqrel" >"$WORK/cran.qrels"
# shellcheck disable=SC2086
"$BIN" import --format text --skip-empty --docs "$DATA/cranfield/cran.all.1400" --queries "$DATA/cranfield/cran.qry" \
  --out "$WORK/cran.h5" $FLAGS 2>/dev/null
"$BIN" search --corpus "$WORK/cran.h5" --exact --k 1000 --out "$WORK/cran.tsv" 2>/dev/null
echo "== Cranfield ($FLAGS)"
"$BIN" eval --run "$WORK/cran.tsv" --qrels "$WORK/cran.qrels" 2>/dev/null
