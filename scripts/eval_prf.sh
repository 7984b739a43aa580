#!/usr/bin/env bash
# Sparse PRF on CACM and Cranfield (issue 9): BM25 over WordPiece (docs/BENCHMARKS.md "Text collections"),
# exact first rounds over a 1-shard index, without and with sparse PRF, top 1000, MAP / nDCG@10.
# Usage: scripts/eval_prf.sh [BUILD_DIR] [DATA_DIR]; PRF flags in $PRF_FLAGS (default: Anserini's RM3 shape,
# 10 feedback docs, 10 terms, original-query weight 0.5).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${1:-$ROOT/build}/bin"
DATA="${2:-$ROOT/../shared/data}"
PRF="${PRF_FLAGS:---prf-docs 10 --prf-terms 10 --prf-sparse-alpha 0.5 --prf-sparse-beta 0.5}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export AFTERSHOCK_BERT_VOCAB="$DATA/bert_vocab_npm/vocab.json"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

run() {  # run NAME QRELS: baseline (PRF with beta 0 = the query alone) and PRF, each evaluated
  local name="$1" qrels="$2"
  mpirun -n 1 "$BIN/aftershock-build" --corpus "$WORK/$name.h5" --out "$WORK/$name-idx" --shards 1 >/dev/null 2>&1
  "$BIN/aftershock" search --index "$WORK/$name-idx" --corpus "$WORK/$name.h5" --mode sparse --exact --k 1000 \
    --prf-sparse --prf-sparse-beta 0 --out "$WORK/$name-base.tsv" 2>/dev/null
  # shellcheck disable=SC2086
  "$BIN/aftershock" search --index "$WORK/$name-idx" --corpus "$WORK/$name.h5" --mode sparse --exact --k 1000 \
    --prf-sparse $PRF --out "$WORK/$name-prf.tsv" 2>/dev/null
  echo "== $name BM25 (exact, forward index)"
  "$BIN/aftershock" eval --run "$WORK/$name-base.tsv" --qrels "$qrels" 2>/dev/null
  echo "== $name BM25 + sparse PRF ($PRF)"
  "$BIN/aftershock" eval --run "$WORK/$name-prf.tsv" --qrels "$qrels" 2>/dev/null
}

"$BIN/aftershock" import --format text --docs "$DATA/cacm/cacm.tar.gz" --queries "$DATA/cacm/topics.cacm.txt" \
  --out "$WORK/cacm.h5" --stopwords english --stemmer s 2>/dev/null
run cacm "$DATA/cacm/qrels.cacm.txt"
awk '{ rel = ($3 == -1) ? 0 : 5 - $3; print $1, 0, $2, rel }' "$DATA/cranfield/cranqrel" >"$WORK/cran.qrels"
"$BIN/aftershock" import --format text --skip-empty --docs "$DATA/cranfield/cran.all.1400" --queries "$DATA/cranfield/cran.qry" \
  --out "$WORK/cran.h5" --stopwords english --stemmer s 2>/dev/null
run cran "$WORK/cran.qrels"
