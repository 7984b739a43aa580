#!/usr/bin/env bash
# SIGSTOP of a worker under load (issue 8). A stopped worker, unlike a killed one, keeps its sockets: connections
# succeed and requests are accepted, but nothing answers. Expected:
# 1. with a replica partner: zero failed and zero partial requests during a load loop across the stop, and every
#    answer while it is stopped identical to the healthy cluster's; the health loop marks it down;
# 2. SIGCONT: marked up again and sent queries again (both times measured);
# 3. with no partner (the only replica of shard 1): answers flagged partial with coverage 1 of 2 (min_coverage 0.5),
#    503 with min_coverage 1, never a complete answer; after SIGCONT complete answers again, identical to before.
source "$(dirname "$0")/lib.sh" "$@"

"$CLI" gen --docs 3000 --queries 80 --seed 11 --out "$WORK/c.h5" >"$WORK/gen.log" 2>&1 || fail "gen"
build_index "$WORK/c.h5" "$WORK/idx" 2 --lambda 200
# a and b are the replicas of shard 0; c alone serves shard 1.
start_worker a --index "$WORK/idx" --shards 0 --metrics-listen 127.0.0.1:0
start_worker b --index "$WORK/idx" --shards 0
start_worker c --index "$WORK/idx" --shards 1
start_coordinator --recall-sample 0 --timeout-ms 2000
wait_ready 20
UP_A="aftershock_worker_up{worker=\"127.0.0.1:${W_PORT[a]}\"}"
UP_C="aftershock_worker_up{worker=\"127.0.0.1:${W_PORT[c]}\"}"
load() { "$CLI" load --url "127.0.0.1:$C_PORT" --corpus "$WORK/c.h5" "$@"; }
# Each query once, answers as a run file: the reference every later run file must equal.
answers() { load --concurrency 2 --min-coverage 1 --fail-on-error --out "$1" >"$1.log" 2>&1 || fail "load for $1: $(cat "$1.log")"; }
answers "$WORK/ref.tsv"
[ "$(wc -l <"$WORK/ref.tsv")" -ge 400 ] || fail "reference run too short"

# 1. SIGSTOP a in the middle of a load loop, SIGCONT it before the loop ends.
load --concurrency 4 --duration 5 --min-coverage 1 --trace "$WORK/t1.trace" >"$WORK/load1.txt" 2>&1 &
LOAD=$!
BG_PIDS+=("$LOAD")
sleep 1
kill -STOP "${W_PID[a]}"
wait_metric "$UP_A" 0 3000 || fail "stopped worker not marked down within 3 s"
down_ms=$WAITED_MS
sleep 1
kill -CONT "${W_PID[a]}"
wait_metric "$UP_A" 1 3000 || fail "continued worker not marked up within 3 s"
up_ms=$WAITED_MS
wait "$LOAD" || fail "load across SIGSTOP: $(cat "$WORK/load1.txt")"
grep -q "codes=200:[0-9]* partial=0 " "$WORK/load1.txt" || fail "failed or partial requests with a live replica: $(cat "$WORK/load1.txt")"
max_ms=$(awk '!/^#/ && $2 > m { m = $2 } END { printf "%.0f", m }' "$WORK/t1.trace")
echo "ok: SIGSTOP of a replica under load: $(sed -n 's/^requests=\([0-9]*\) .*/\1/p' "$WORK/load1.txt") requests, all 200, none partial;" \
  "marked down after ${down_ms} ms, up ${up_ms} ms after SIGCONT; slowest request ${max_ms} ms"

# 2. While a is stopped (and known down), every answer equals the healthy cluster's; after SIGCONT a serves again.
before=$(worker_metric a aftershock_worker_queries_total)
kill -STOP "${W_PID[a]}"
wait_metric "$UP_A" 0 3000 || fail "stopped worker not marked down within 3 s"
answers "$WORK/stopped.tsv"
cmp -s "$WORK/ref.tsv" "$WORK/stopped.tsv" || fail "answers with a stopped replica differ from the healthy cluster's"
kill -CONT "${W_PID[a]}"
t0=$(now_ms)
load --concurrency 4 --duration 6 --min-coverage 1 >"$WORK/load2.txt" 2>&1 &
LOAD=$!
BG_PIDS+=("$LOAD")
used_ms=""
while kill -0 "$LOAD" 2>/dev/null; do
  if awk -v a="$(worker_metric a aftershock_worker_queries_total)" -v b="$before" 'BEGIN { exit !(a > b) }'; then
    used_ms=$(( $(now_ms) - t0 )); break
  fi
  sleep 0.05
done
wait "$LOAD" || fail "load after SIGCONT: $(cat "$WORK/load2.txt")"
[ -n "$used_ms" ] || fail "continued worker got no query in 6 s of load"
echo "ok: answers with a stopped replica identical to the healthy cluster's; after SIGCONT the replica searched again within ${used_ms} ms"

# 3. SIGSTOP c, the only replica of shard 1: partial answers flagged with the right coverage, never complete.
kill -STOP "${W_PID[c]}"
load --concurrency 4 --duration 3 --min-coverage 0.5 --trace "$WORK/t3.trace" >"$WORK/load3.txt" 2>&1 || fail "load without shard 1"
# The load started after the stop, so c answered none of it: each request must be a partial 200 (those sent before
# the health loop marked c down wait for the deadline, then answer with the shards that did).
not_partial=$(awk '!/^#/ && !($3 == 200 && $4 == 1)' "$WORK/t3.trace" | head -3)
[ -z "$not_partial" ] || fail "requests without shard 1 that were not partial 200s (start_ms latency_ms status partial): $not_partial"
wait_metric "$UP_C" 0 3000 || fail "stopped sole replica not marked down within 3 s"
q='{"k":5,"sparse":{"indices":[1996,2000],"values":[1.0,0.25]},"min_coverage":'
t0=$(now_ms)
http_post /v1/search "${q}0.5}"
fast_ms=$(( $(now_ms) - t0 ))
[ "$HTTP_CODE" = 200 ] || fail "partial answer expected 200, got $HTTP_CODE $HTTP_BODY"
grep -q '"partial":true' <<<"$HTTP_BODY" || fail "answer not flagged partial: $HTTP_BODY"
grep -q '"coverage":{"answered":1,"shards":2}' <<<"$HTTP_BODY" || fail "wrong coverage: $HTTP_BODY"
[ "$fast_ms" -lt 1000 ] || fail "with the stopped worker known down, a partial answer still took ${fast_ms} ms"
http_post /v1/search "${q}1}"
[ "$HTTP_CODE" = 503 ] || fail "min_coverage 1 without shard 1 must be 503, got $HTTP_CODE $HTTP_BODY"
kill -CONT "${W_PID[c]}"
wait_metric "$UP_C" 1 3000 || fail "continued sole replica not marked up within 3 s"
c_up_ms=$WAITED_MS
answers "$WORK/after.tsv"
cmp -s "$WORK/ref.tsv" "$WORK/after.tsv" || fail "answers after SIGCONT differ from before the stop"
echo "ok: sole replica stopped: $(sed -n 's/^requests=\([0-9]*\) .*/\1/p' "$WORK/load3.txt") requests all partial 200 (coverage 1/2)," \
  "503 at min_coverage 1, ${fast_ms} ms once known down; back ${c_up_ms} ms after SIGCONT with identical answers"
echo "PASS"
