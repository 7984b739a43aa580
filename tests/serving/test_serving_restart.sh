#!/usr/bin/env bash
# Coordinator restarted mid-load (issue 8): kill -9 the coordinator during a paced load loop (aftershock load --rate,
# one trace line per request), start it again on the same port a second later. Expected: the load driver sees
# failures only between the kill and the restarted coordinator's readiness (transport errors, or 503 not_ready while
# it relearns the cluster; never a 4xx or another code), complete 200s before and after; the new coordinator
# relearns the cluster from the workers (time to ready measured) and answers exactly as the old one did; until it
# has, searches are 503 not_ready.
source "$(dirname "$0")/lib.sh" "$@"

"$CLI" gen --docs 3000 --queries 80 --seed 11 --out "$WORK/c.h5" >"$WORK/gen.log" 2>&1 || fail "gen"
build_index "$WORK/c.h5" "$WORK/idx" 2 --lambda 200
start_worker a --index "$WORK/idx"
start_worker b --index "$WORK/idx"
start_coordinator --recall-sample 0 --timeout-ms 2000
wait_ready 20
load() { "$CLI" load --url "127.0.0.1:$C_PORT" --corpus "$WORK/c.h5" "$@"; }
load --concurrency 2 --min-coverage 1 --fail-on-error --out "$WORK/ref.tsv" >"$WORK/ref.log" 2>&1 || fail "reference load: $(cat "$WORK/ref.log")"

# --rate paces the driver, so the gap costs about rate x gap failed requests instead of a busy loop of refusals.
RATE=150
load --concurrency 4 --rate "$RATE" --duration 6 --min-coverage 1 --trace "$WORK/t.trace" >"$WORK/load.txt" 2>&1 &
LOAD=$!
BG_PIDS+=("$LOAD")
sleep 1.5
t_kill=$(now_ms)
kill -9 "$C_PID"
wait "$C_PID" 2>/dev/null || true
sleep 1
t_start=$(now_ms)
C_LISTEN_PORT=$C_PORT start_coordinator "${C_ARGS[@]}"
t_listen=$(now_ms)
wait_ready 10
t_ready=$(now_ms)
wait "$LOAD" || fail "load driver: $(cat "$WORK/load.txt")"

# Trace times are relative to the driver's own time 0 (its '# t0_unix_ms' line). Measured from when this script
# launched it instead, a driver that started late on a loaded machine made the failures right after the kill look
# like failures before it. Allow 300 ms either side.
t0=$(awk '/^# t0_unix_ms / { print $3; exit }' "$WORK/t.trace")
[ -n "$t0" ] || fail "trace without its t0_unix_ms line"
kill_at=$((t_kill - t0)) ready_at=$((t_ready - t0))
read -r first_bad last_bad n_bad n_other n_ok_after < <(awk -v ready="$ready_at" '
  !/^#/ {
    if ($3 != 200) { if (n_bad++ == 0) first = $1; last = $1 + $2; if ($3 != 0 && $3 != 503) other++ }
    else if ($1 > ready + 300) { ok_after++ }
  }
  END { printf "%d %d %d %d %d\n", first, last, n_bad, other + 0, ok_after + 0 }' "$WORK/t.trace")
first_ok_after=$(awk -v last="$last_bad" '!/^#/ && $3 == 200 && $1 >= last { print int($1); exit }' "$WORK/t.trace")
[ "$n_bad" -gt 0 ] || fail "no failed request at all: was the coordinator really killed? $(cat "$WORK/load.txt")"
[ "$n_other" -eq 0 ] || fail "codes other than 200, transport errors and 503 during the restart: $(cat "$WORK/load.txt")"
[ "$first_bad" -ge $((kill_at - 300)) ] || fail "a request failed at ${first_bad} ms, before the kill at ${kill_at} ms"
[ "$last_bad" -le $((ready_at + 300)) ] || fail "a request failed until ${last_bad} ms, after the restarted coordinator was ready at ${ready_at} ms"
[ "$n_ok_after" -ge 100 ] || fail "only $n_ok_after answers after the restart: $(cat "$WORK/load.txt")"
grep -q " partial=0 " "$WORK/load.txt" || fail "partial answers: $(cat "$WORK/load.txt")"
# The pacing itself: the driver kept up (no request sent late) and sent RATE per second overall.
lag=$(sed -n 's/^target_qps=[0-9.]* max_lag_ms=\([0-9.]*\)$/\1/p' "$WORK/load.txt")
qps=$(sed -n 's/.* qps=\([0-9.]*\) .*/\1/p' "$WORK/load.txt")
[ -n "$lag" ] && awk -v l="$lag" 'BEGIN { exit !(l < 250) }' || fail "the paced driver fell behind (max_lag_ms=$lag)"
awk -v q="$qps" -v r="$RATE" 'BEGIN { exit !(q > 0.9 * r && q < 1.1 * r) }' || fail "paced at $RATE/s but measured $qps/s"

# The restarted coordinator knows the whole cluster again and answers as before.
cluster=$(curl -s "127.0.0.1:$C_PORT/v1/cluster")
[ "$(grep -o '"state":"up"' <<<"$cluster" | wc -l)" = 2 ] || fail "restarted coordinator does not see both workers up: $cluster"
load --concurrency 2 --min-coverage 1 --fail-on-error --out "$WORK/after.tsv" >"$WORK/after.log" 2>&1 || fail "load after restart: $(cat "$WORK/after.log")"
cmp -s "$WORK/ref.tsv" "$WORK/after.tsv" || fail "answers after the restart differ from before"
# Before any worker has described the index (here none is reachable) a search is 503 not_ready, not a 4xx blaming
# a correct query: what a client of a just-restarted coordinator may meet.
"$COORD" --listen 127.0.0.1:0 --port-file "$WORK/lone.port" --workers 127.0.0.1:1 >"$WORK/lone.log" 2>&1 &
BG_PIDS+=("$!")
wait_file "$WORK/lone.port" 30 || fail "a coordinator without workers did not start"
C_PORT=$(cat "$WORK/lone.port") http_post /v1/search '{"k":5,"sparse":{"indices":[1996,2000],"values":[1.0,0.5]}}'
[ "$HTTP_CODE" = 503 ] && grep -q '"code":"not_ready"' <<<"$HTTP_BODY" \
  || fail "a search before the index is known must be 503 not_ready, got $HTTP_CODE $HTTP_BODY"
echo "ok: coordinator kill -9 under load at ${RATE}/s: $n_bad requests failed, all between the kill (${kill_at} ms) and" \
  "readiness (${ready_at} ms); clients saw no answer for $((first_ok_after - first_bad)) ms (1 s of it the deliberate gap);" \
  "restart to listening $((t_listen - t_start)) ms, to ready $((t_ready - t_start)) ms; answers identical after the restart"
echo "PASS"
