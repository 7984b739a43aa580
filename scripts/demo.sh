#!/usr/bin/env bash
# Set-up and the main job on the embedded default:
#   generate a calibrated synthetic SPLADE-like corpus with dense vectors (or use --corpus), compute the exact
#   ground truth, build the index with `mpirun -n 2 aftershock-build` (2 shards), start 2 shard servers (each
#   serving both shards, so every shard has a replica) and the HTTP coordinator on 127.0.0.1, run a query
#   workload through HTTP and print recall@10 / latency / QPS for sparse, dense and hybrid queries.
#   The cluster keeps serving until Ctrl-C; every process started here is stopped on exit.
# Options:
#   --once          stop after the table
#   --corpus FILE   use an existing corpus HDF5 file (sparse and/or dense queries) instead of generating one
#   --docs N        generated documents (default 100000)
#   --queries N     generated queries (default 1000)
#   --port P        coordinator port (default 8080; another free port is used if it is taken)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DOCS=100000
QUERIES=1000
CORPUS=""
ONCE=0
PORT=8080
while (($#)); do
  case "$1" in
    --once) ONCE=1; shift ;;
    --corpus) CORPUS="$2"; shift 2 ;;
    --docs) DOCS="$2"; shift 2 ;;
    --queries) QUERIES="$2"; shift 2 ;;
    --port) PORT="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "demo.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

source "$ROOT/scripts/setup.sh"
BIN="$BUILD_DIR/bin"
WORK="$BUILD_DIR/demo"
mkdir -p "$WORK"

PIDS=()
stop_all() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# 1. Corpus and exact ground truth.
if [[ -z "$CORPUS" ]]; then
  CORPUS="$WORK/generated-$DOCS-$QUERIES.h5"
  if [[ ! -f "$CORPUS" ]]; then
    "$BIN/aftershock" gen --docs "$DOCS" --queries "$QUERIES" --dense-dim 64 --out "$CORPUS.part"
    mv "$CORPUS.part" "$CORPUS"
  fi
fi
info="$("$BIN/aftershock" inspect --corpus "$CORPUS")"
modes=()
grep -q '^sparse' <<<"$info" && modes+=(sparse)
grep -q '^dense' <<<"$info" && modes+=(dense)
((${#modes[@]} == 2)) && modes+=(hybrid)
for m in sparse dense; do
  if grep -q "^$m" <<<"$info" && ! grep -q "^groundtruth $m:" <<<"$info"; then
    "$BIN/aftershock" groundtruth --corpus "$CORPUS" --mode "$m" --k 100
  fi
done
ndocs=$(awk '/^documents/{print $2}' <<<"$info")

# 2. The index: 2 MPI ranks, 2 shards. lambda keeps about 25% of the nonzeros in the posting lists.
IDX="$WORK/$(basename "$CORPUS" .h5).index"
# An index left by an older build (another shard format version) or a broken one is rebuilt, not served.
if [[ -f "$IDX/manifest.json" ]] && ! why=$("$BIN/aftershock" inspect --index "$IDX" 2>&1 >/dev/null); then
  echo "demo.sh: rebuilding $IDX: $(tail -1 <<<"$why")"
  rm -rf "$IDX"
fi
if [[ ! -f "$IDX/manifest.json" ]]; then
  args=()
  if grep -q '^sparse' <<<"$info"; then
    nnz=$(awk '/^sparse/{print $6}' <<<"$info" | tr -d ',')
    dim=$(awk '/^sparse/{print $3}' <<<"$info" | tr -d ',')
    args+=(--lambda "$(awk -v z="$nnz" -v d="$dim" 'BEGIN { l = int(0.25 * z / 2 / d); print (l < 10 ? 10 : l) }')")
  fi
  mpirun -n 2 "$BIN/aftershock-build" --corpus "$CORPUS" --out "$IDX" --shards 2 "${args[@]}"
fi

# 3. Two workers (both serve both shards: replicas) and the coordinator, on 127.0.0.1.
start() {  # start NAME PORTFILE CMD...: background process whose port appears in PORTFILE
  local name="$1" pf="$2"; shift 2
  rm -f "$pf"
  "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=("$!")
  for _ in $(seq 1 600); do [[ -s "$pf" ]] && return 0; kill -0 "$!" 2>/dev/null || break; sleep 0.1; done
  echo "demo.sh: $name did not start:" >&2; tail -5 "$WORK/$name.log" >&2; exit 1
}
start worker-1 "$WORK/w1.port" "$BIN/aftershock-worker" --index "$IDX" --listen 127.0.0.1:0 --port-file "$WORK/w1.port"
start worker-2 "$WORK/w2.port" "$BIN/aftershock-worker" --index "$IDX" --listen 127.0.0.1:0 --port-file "$WORK/w2.port"
WORKERS="127.0.0.1:$(cat "$WORK/w1.port"),127.0.0.1:$(cat "$WORK/w2.port")"
(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && PORT=0  # taken: let the OS pick
start coordinator "$WORK/coordinator.port" "$BIN/aftershock-coordinator" --listen "127.0.0.1:$PORT" \
  --port-file "$WORK/coordinator.port" --workers "$WORKERS" --recall-sample 0.05
URL="127.0.0.1:$(cat "$WORK/coordinator.port")"
for _ in $(seq 1 100); do [[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/readyz")" == 200 ]] && break; sleep 0.1; done

# 4. Workload through HTTP: every query once (recall, latency at concurrency 1), then 5 s at concurrency 8 (QPS).
field() { sed -E "s/.* $1=([0-9.]+).*/\1/" <<<" $2"; }
rows=()
for m in "${modes[@]}"; do
  run="$WORK/http.$m.tsv"
  lat=$("$BIN/aftershock" load --url "$URL" --corpus "$CORPUS" --mode "$m" --k 10 --out "$run" 2>/dev/null)
  if [[ $m == hybrid ]]; then
    # Hybrid truth: the same fusion over exact sparse and exact dense answers, from the cluster itself.
    "$BIN/aftershock" load --url "$URL" --corpus "$CORPUS" --mode hybrid --k 10 --exact --timeout-ms 60000 \
      --concurrency 2 --out "$WORK/http.hybrid.exact.tsv" >/dev/null 2>&1
    recall=$("$BIN/aftershock" recall --run "$run" --truth "$WORK/http.hybrid.exact.tsv" --k 10 | awk '{print $2}')
  else
    recall=$("$BIN/aftershock" recall --run "$run" --corpus "$CORPUS" --mode "$m" --k 10 | awk '{print $2}')
  fi
  qps=$("$BIN/aftershock" load --url "$URL" --corpus "$CORPUS" --mode "$m" --k 10 --concurrency 8 --duration 5 2>/dev/null)
  rows+=("$(printf '%-7s %9s %9s %9s %9s %11s %9s' "$m" "$recall" "$(field p50_ms "$lat")" "$(field p99_ms "$lat")" \
    "$(field p50_overhead_ms "$lat")" "$(field qps "$qps")" "$(field p99_ms "$qps")")")
done

echo
echo "Aftershock demo: $(basename "$CORPUS"), $ndocs documents, 2 shards x 2 replicas, coordinator $URL"
printf '%-7s %9s %9s %9s %9s %11s %9s\n' mode recall@10 p50_ms p99_ms ovh_ms QPS@c8 p99@c8
for r in "${rows[@]}"; do echo "$r"; done
echo
echo "recall@10: sparse and dense against the exact ground truth (aftershock groundtruth); hybrid (RRF over 100"
echo "candidates per route) against the same fusion of exact answers. p50/p99: one client, each query once, through"
echo "HTTP; ovh_ms: p50 of HTTP latency minus the workers' own search time. QPS@c8: 8 concurrent clients for 5 s."
echo
echo "  search:   curl -s -XPOST $URL/v1/search -d '{\"k\":5,\"sparse\":{\"indices\":[1996,2000],\"values\":[1.0,0.5]}}'"
echo "  cluster:  http://$URL/v1/cluster"
echo "  metrics:  http://$URL/metrics"
if ((ONCE)); then exit 0; fi
echo
echo "Serving until Ctrl-C."
wait "${PIDS[-1]}"
