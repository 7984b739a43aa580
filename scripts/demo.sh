#!/usr/bin/env bash
# Set-up and the main job on the embedded default:
#   generate a calibrated synthetic SPLADE-like corpus (and, when ../shared/data is there, import the real
#   SPLADE++ dev vectors), compute exact ground truth, run the exact search, print recall and latency.
# Options:
#   --once          exit after the table (today the demo always does; the serving cluster comes later)
#   --corpus FILE   use an existing corpus HDF5 file instead of generating one
#   --docs N        generated documents (default 100000)
#   --queries N     generated queries (default 1000)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DOCS=100000
QUERIES=1000
CORPUS=""
while (($#)); do
  case "$1" in
    --once) shift ;;
    --corpus) CORPUS="$2"; shift 2 ;;
    --docs) DOCS="$2"; shift 2 ;;
    --queries) QUERIES="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "demo.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

source "$ROOT/scripts/setup.sh"
BIN="$BUILD_DIR/bin/aftershock"
WORK="$BUILD_DIR/demo"
SHARED="$ROOT/../shared/data"
mkdir -p "$WORK"

corpora=()
if [[ -n "$CORPUS" ]]; then
  corpora+=("$CORPUS")
else
  if [[ ! -f "$WORK/generated-$DOCS-$QUERIES.h5" ]]; then
    "$BIN" gen --docs "$DOCS" --queries "$QUERIES" --dense-dim 64 --out "$WORK/generated-$DOCS-$QUERIES.h5.part"
    mv "$WORK/generated-$DOCS-$QUERIES.h5.part" "$WORK/generated-$DOCS-$QUERIES.h5"
  fi
  corpora+=("$WORK/generated-$DOCS-$QUERIES.h5")
  SPLADE="$SHARED/anserini_splade_queries_dev/topics.msmarco-passage.dev-subset.splade-pp-ed.tsv.gz"
  if [[ -f "$SPLADE" ]]; then
    if [[ ! -f "$WORK/splade-dev.h5" ]]; then
      "$BIN" import --format tsv-tokens --docs "$SPLADE" --vocab "$SHARED/bert_vocab_npm/vocab.json" \
        --holdout 1000 --out "$WORK/splade-dev.h5"
    fi
    corpora+=("$WORK/splade-dev.h5")
  fi
fi

rows=()
for c in "${corpora[@]}"; do
  for mode in sparse dense; do
    info="$("$BIN" inspect --corpus "$c")"
    if [[ $mode == sparse ]] && ! grep -q '^sparse' <<<"$info"; then continue; fi
    if [[ $mode == dense ]] && ! grep -q '^dense' <<<"$info"; then continue; fi
    ndocs=$(awk '/^documents/{print $2}' <<<"$info")
    nq=$(awk '/^queries/{print $2}' <<<"$info")
    if ! grep -q "^groundtruth $mode:" <<<"$info"; then
      "$BIN" groundtruth --corpus "$c" --mode "$mode" --k 100
    fi
    run="$WORK/$(basename "$c" .h5).$mode.exact.tsv"
    summary=$("$BIN" search --corpus "$c" --mode "$mode" --exact --k 10 --threads 1 --out "$run" 2>&1 >/dev/null | tail -1)
    recall=$("$BIN" recall --run "$run" --corpus "$c" --k 10 --mode "$mode" | awk '{print $2}')
    mean=$(sed -E 's/.*mean_us=([0-9.]+).*/\1/' <<<"$summary")
    p50=$(sed -E 's/.*p50_us=([0-9.]+).*/\1/' <<<"$summary")
    p99=$(sed -E 's/.*p99_us=([0-9.]+).*/\1/' <<<"$summary")
    qps=$(awk -v m="$mean" 'BEGIN{ if (m > 0) printf "%.0f", 1e6/m; else print "-" }')
    rows+=("$(printf '%-28s %-7s %-8s %9s %8s %9s %10s %10s %10s %8s' "$(basename "$c")" "$mode" exact "$ndocs" "$nq" "$recall" "$mean" "$p50" "$p99" "$qps")")
    if [[ $mode == sparse ]]; then
      # Seismic index built by 2 MPI ranks into 2 shards; lambda keeps about 8% of the nonzeros.
      nnz=$(awk '/^sparse/{print $6}' <<<"$info" | tr -d ',')
      dim=$(awk '/^sparse/{print $3}' <<<"$info" | tr -d ',')
      lambda=$(awk -v z="$nnz" -v d="$dim" 'BEGIN { l = int(0.08 * z / 2 / d); print (l < 10 ? 10 : l) }')
      idx="$WORK/$(basename "$c" .h5).index"
      [[ -f "$idx/manifest.json" ]] || mpirun -n 2 "$BUILD_DIR/bin/aftershock-build" --corpus "$c" --out "$idx" --shards 2 --lambda "$lambda"
      run="$WORK/$(basename "$c" .h5).seismic.tsv"
      summary=$("$BIN" search --index "$idx" --corpus "$c" --k 10 --query-cut 10 --heap-factor 0.7 --threads 1 --out "$run" 2>&1 >/dev/null | tail -1)
      recall=$("$BIN" recall --run "$run" --corpus "$c" --k 10 --mode sparse | awk '{print $2}')
      mean=$(sed -E 's/.*mean_us=([0-9.]+).*/\1/' <<<"$summary")
      p50=$(sed -E 's/.*p50_us=([0-9.]+).*/\1/' <<<"$summary")
      p99=$(sed -E 's/.*p99_us=([0-9.]+).*/\1/' <<<"$summary")
      qps=$(awk -v m="$mean" 'BEGIN{ if (m > 0) printf "%.0f", 1e6/m; else print "-" }')
      rows+=("$(printf '%-28s %-7s %-8s %9s %8s %9s %10s %10s %10s %8s' "$(basename "$c")" sparse seismic "$ndocs" "$nq" "$recall" "$mean" "$p50" "$p99" "$qps")")
    fi
  done
done

echo
printf '%-28s %-7s %-8s %9s %8s %9s %10s %10s %10s %8s\n' corpus mode method docs queries recall@10 mean_us p50_us p99_us QPS/thread
for r in "${rows[@]}"; do echo "$r"; done
echo
echo "Recall is measured against the stored exact ground truth (aftershock groundtruth); single-thread latency."
echo "seismic: index built with mpirun -n 2 aftershock-build (2 shards), searched in-process with query_cut 10,"
echo "heap_factor 0.7. The serving cluster (workers + HTTP coordinator) joins this table with its issue."
