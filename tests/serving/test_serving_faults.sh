#!/usr/bin/env bash
# Faults with replicas: kill -9 one replica during a bounded load loop -> zero failed requests; restart it ->
# the coordinator uses it again within 2 s; kill both replicas of a shard -> partial answers with the right
# coverage, or 503 when min_coverage demands it; SIGTERM drains an in-flight request before the worker exits.
source "$(dirname "$0")/lib.sh" "$@"

"$CLI" gen --docs 3000 --queries 80 --seed 11 --out "$WORK/c.h5" >"$WORK/gen.log" 2>&1 || fail "gen"
build_index "$WORK/c.h5" "$WORK/idx" 2 --lambda 200
# a and b serve both shards; c serves shard 1 only (so shard 1 outlives a and b).
start_worker a --index "$WORK/idx"
start_worker b --index "$WORK/idx"
start_worker c --index "$WORK/idx" --shards 1
start_coordinator --recall-sample 0 --timeout-ms 3000
wait_ready 20

# 1. kill -9 one replica in the middle of a bounded load loop: every request still answers 200, complete.
"$CLI" load --url "127.0.0.1:$C_PORT" --corpus "$WORK/c.h5" --concurrency 4 --duration 4 --min-coverage 1 \
  >"$WORK/load1.txt" 2>&1 &
LOAD=$!
BG_PIDS+=("$LOAD")
sleep 1.5
kill -9 "${W_PID[a]}"
wait "$LOAD" || fail "load with a killed replica: $(cat "$WORK/load1.txt")"
grep -q "codes=200:" "$WORK/load1.txt" || fail "unexpected codes: $(cat "$WORK/load1.txt")"
grep -q "partial=0 " "$WORK/load1.txt" || fail "partial answers with a live replica left: $(cat "$WORK/load1.txt")"
requests=$(sed -n 's/^requests=\([0-9]*\) .*/\1/p' "$WORK/load1.txt")
[ "$requests" -ge 40 ] || fail "too few requests in the load loop ($requests)"
echo "ok: kill -9 of a replica under load: $requests requests, all 200, none partial"

# 2. restart it on the same port: the health loop sees it within 2 s of it listening.
start_worker a --index "$WORK/idx"
wait_metric "aftershock_worker_up{worker=\"127.0.0.1:${W_PORT[a]}\"}" 1 2000 || fail "restarted worker not used again within 2 s"
back_ms=$WAITED_MS
# ...and it serves: with b gone too, shard 0 can only be answered by the restarted a.
kill -9 "${W_PID[b]}"
http_post /v1/search '{"k":5,"sparse":{"indices":[1996,2000],"values":[1.0,0.5]},"min_coverage":1}'
[ "$HTTP_CODE" = 200 ] || fail "restarted replica did not answer: $HTTP_CODE $HTTP_BODY"
echo "ok: restarted replica back in ${back_ms} ms and answering"

# 3. kill the last replica of shard 0: shard 1 (c) still answers.
kill -9 "${W_PID[a]}"
sleep 0.3
http_post /v1/search '{"k":5,"sparse":{"indices":[1996,2000],"values":[1.0,0.5]},"min_coverage":0.5}'
[ "$HTTP_CODE" = 200 ] || fail "partial answer expected 200, got $HTTP_CODE $HTTP_BODY"
grep -q '"partial":true' <<<"$HTTP_BODY" || fail "answer not flagged partial: $HTTP_BODY"
grep -q '"coverage":{"answered":1,"shards":2}' <<<"$HTTP_BODY" || fail "wrong coverage: $HTTP_BODY"
http_post /v1/search '{"k":5,"sparse":{"indices":[1996,2000],"values":[1.0,0.5]},"min_coverage":1}'
[ "$HTTP_CODE" = 503 ] || fail "min_coverage 1 with a dead shard must be 503, got $HTTP_CODE $HTTP_BODY"
grep -q '"code":"insufficient_coverage"' <<<"$HTTP_BODY" || fail "503 body: $HTTP_BODY"
[ "$(curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:$C_PORT/readyz")" = 503 ] || fail "/readyz must be 503 with a dead shard"
[ "$(metric aftershock_partial_responses_total)" != 0 ] || fail "partial responses not counted"
echo "ok: both replicas of shard 0 dead: partial 1/2 with min_coverage 0.5, 503 with min_coverage 1, readyz 503"

# 4. SIGTERM drains: a slow worker (test delay) answers its in-flight request, then exits 0.
kill -TERM "$C_PID"; wait "$C_PID" || true
W_PORT=()
start_worker slow --index "$WORK/idx" --test-delay-ms 700
start_coordinator --recall-sample 0 --hedge-ms -1 --timeout-ms 5000
wait_ready 20
( http_post /v1/search '{"k":3,"sparse":{"indices":[1996],"values":[1.0]}}'; echo "$HTTP_CODE" >"$WORK/drain.code" ) &
INFLIGHT=$!
sleep 0.3
kill -TERM "${W_PID[slow]}"
wait "${W_PID[slow]}" || fail "worker exit code after SIGTERM was $?"
wait "$INFLIGHT"
[ "$(cat "$WORK/drain.code")" = 200 ] || fail "in-flight request during SIGTERM got $(cat "$WORK/drain.code")"
grep -q "draining" "$WORK/worker-slow.log" || fail "no drain logged"
echo "ok: SIGTERM drained the in-flight request (200) and the worker exited 0"
echo "PASS"
