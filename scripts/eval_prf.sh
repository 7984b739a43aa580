#!/usr/bin/env bash
# Sparse PRF on CACM and Cranfield (issue 9): BM25 over WordPiece (docs/BENCHMARKS.md "Text collections"),
# exact first rounds over a 1-shard index, without and with sparse PRF, top 1000, MAP / nDCG@10.
# Usage: scripts/eval_prf.sh [BUILD_DIR] [DATA_DIR]; PRF flags in $PRF_FLAGS (default: Anserini's RM3 shape,
# 10 feedback docs, 10 terms, original-query weight 0.5). Several settings separated by ';' are each evaluated
# on the same index, e.g. PRF_FLAGS='--prf-docs 3 --prf-terms 20; --prf-docs 5 --prf-sparse-alpha 0.7 --prf-sparse-beta 0.3'.
# Prints each run's full evaluation, then one line per run: collection, MAP, nDCG@10, P@30, flags.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${1:-$ROOT/build}/bin"
DATA="${2:-$ROOT/../shared/data}"
PRF="${PRF_FLAGS:---prf-docs 10 --prf-terms 10 --prf-sparse-alpha 0.5 --prf-sparse-beta 0.5}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export AFTERSHOCK_BERT_VOCAB="$DATA/bert_vocab_npm/vocab.json"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
SUMMARY=()

evaluate() {  # evaluate NAME QRELS RUN LABEL: prints the evaluation, adds a summary line
  echo "== $1 $4"
  "$BIN/aftershock" eval --run "$3" --qrels "$2" 2>/dev/null | tee "$WORK/eval.txt"
  SUMMARY+=("$(awk -v c="$1" -v l="$4" '$1 == "map" { m = $2 } $1 == "ndcg_cut_10" { n = $2 } $1 == "P_30" { p = $2 }
                END { printf "%-5s MAP %s  nDCG@10 %s  P@30 %s  %s", c, m, n, p, l }' "$WORK/eval.txt")")
}

run() {  # run NAME QRELS: baseline (PRF with beta 0 = the query alone) and each PRF setting, each evaluated
  local name="$1" qrels="$2" i=0 flags words
  mpirun -n 1 "$BIN/aftershock-build" --corpus "$WORK/$name.h5" --out "$WORK/$name-idx" --shards 1 >/dev/null 2>&1
  "$BIN/aftershock" search --index "$WORK/$name-idx" --corpus "$WORK/$name.h5" --mode sparse --exact --k 1000 \
    --prf-sparse --prf-sparse-beta 0 --out "$WORK/$name-base.tsv" 2>/dev/null
  evaluate "$name" "$qrels" "$WORK/$name-base.tsv" "BM25 (exact, forward index)"
  IFS=';' read -ra settings <<<"$PRF"
  for flags in "${settings[@]}"; do
    i=$((i + 1))
    # shellcheck disable=SC2086
    "$BIN/aftershock" search --index "$WORK/$name-idx" --corpus "$WORK/$name.h5" --mode sparse --exact --k 1000 \
      --prf-sparse $flags --out "$WORK/$name-prf$i.tsv" 2>/dev/null
    read -ra words <<<"$flags"
    evaluate "$name" "$qrels" "$WORK/$name-prf$i.tsv" "BM25 + sparse PRF (${words[*]})"
  done
}

"$BIN/aftershock" import --format text --docs "$DATA/cacm/cacm.tar.gz" --queries "$DATA/cacm/topics.cacm.txt" \
  --out "$WORK/cacm.h5" --stopwords english --stemmer s 2>/dev/null
run cacm "$DATA/cacm/qrels.cacm.txt"
awk '{ rel = ($3 == -1) ? 0 : 5 - $3; print $1, 0, $2, rel }' "$DATA/cranfield/cranqrel" >"$WORK/cran.qrels"
"$BIN/aftershock" import --format text --skip-empty --docs "$DATA/cranfield/cran.all.1400" --queries "$DATA/cranfield/cran.qry" \
  --out "$WORK/cran.h5" --stopwords english --stemmer s 2>/dev/null
run cran "$WORK/cran.qrels"
echo "== summary"
printf '%s\n' "${SUMMARY[@]}"
