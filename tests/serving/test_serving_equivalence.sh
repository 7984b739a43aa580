#!/usr/bin/env bash
# Through HTTP, answers equal `aftershock search` on the same index (ids and scores, every query), with 1 and
# with 4 shards, two workers each serving every shard (replicas). Exact mode too.
source "$(dirname "$0")/lib.sh" "$@"

"$CLI" gen --docs 4000 --queries 60 --seed 7 --out "$WORK/c.h5" >"$WORK/gen.log" 2>&1 || fail "gen"
"$CLI" groundtruth --corpus "$WORK/c.h5" --k 10 >"$WORK/gt.log" 2>&1 || fail "groundtruth"
for shards in 1 4; do
  build_index "$WORK/c.h5" "$WORK/idx$shards" "$shards" --lambda 200
  W_PORT=()
  start_worker "a$shards" --index "$WORK/idx$shards"
  start_worker "b$shards" --index "$WORK/idx$shards"
  start_coordinator --recall-sample 0
  wait_ready 20
  "$CLI" search --index "$WORK/idx$shards" --corpus "$WORK/c.h5" --k 10 --threads 1 --out "$WORK/local$shards.tsv" 2>/dev/null \
    || fail "local search ($shards shards)"
  "$CLI" load --url "127.0.0.1:$C_PORT" --corpus "$WORK/c.h5" --k 10 --concurrency 3 --fail-on-error \
    --out "$WORK/http$shards.tsv" >"$WORK/load$shards.txt" 2>&1 || fail "load ($shards shards): $(cat "$WORK/load$shards.txt")"
  [ "$(wc -l <"$WORK/local$shards.tsv")" -ge 500 ] || fail "too few local results ($shards shards)"
  cmp "$WORK/local$shards.tsv" "$WORK/http$shards.tsv" || { diff "$WORK/local$shards.tsv" "$WORK/http$shards.tsv" | head; fail "HTTP answers differ from aftershock search ($shards shards)"; }
  # Exact search through the cluster equals the corpus oracle's ids (scores: f16 forward values vs f32 corpus).
  "$CLI" load --url "127.0.0.1:$C_PORT" --corpus "$WORK/c.h5" --k 10 --exact --fail-on-error --out "$WORK/exact$shards.tsv" >/dev/null 2>&1 \
    || fail "exact load ($shards shards)"
  r=$("$CLI" recall --run "$WORK/exact$shards.tsv" --corpus "$WORK/c.h5" --k 10 2>/dev/null) || fail "recall"
  awk '{ if ($2 < 0.995) exit 1 }' <<<"$r" || fail "exact search through HTTP has $r against the f32 ground truth"
  kill -TERM "$C_PID" "${W_PID[a$shards]}" "${W_PID[b$shards]}"
  wait "$C_PID" "${W_PID[a$shards]}" "${W_PID[b$shards]}" || fail "a server did not exit cleanly on SIGTERM"
  echo "ok: $shards shards: $(wc -l <"$WORK/http$shards.tsv") result lines identical; exact $r"
done
echo "PASS"
