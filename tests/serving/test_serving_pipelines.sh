#!/usr/bin/env bash
# Issue 9 pipelines through HTTP: rerank and PRF answers equal `aftershock search` on the same index byte for
# byte (1 and 4 shards, replicas); with exact first rounds the answers do not depend on the shard count (1 vs 4
# shards identical, through HTTP and locally); a worker with --dense-store disk answers rerank and sparse PRF
# exactly as one with the vectors in memory; mixed replicas (disk + memory store) retry what the disk one
# refuses (exact dense search) on the memory one; with no replica able to serve it, the answer is 501.
source "$(dirname "$0")/lib.sh" "$@"

"$CLI" gen --docs 4000 --queries 60 --seed 11 --dense-dim 32 --out "$WORK/c.h5" >"$WORK/gen.log" 2>&1 || fail "gen"

# same MODE SHARDS TAG FLAGS...: local search and HTTP load with the same flags give byte-identical run files.
same() {
  local mode="$1" shards="$2" tag="$3$2"; shift 3
  "$CLI" search --index "$WORK/idx$shards" --corpus "$WORK/c.h5" --mode "$mode" --k 10 --threads 1 "$@" \
    --out "$WORK/local-$tag.tsv" 2>"$WORK/search-$tag.log" || fail "local search $tag: $(tail -3 "$WORK/search-$tag.log")"
  "$CLI" load --url "127.0.0.1:$C_PORT" --corpus "$WORK/c.h5" --mode "$mode" --k 10 --concurrency 3 --fail-on-error "$@" \
    --out "$WORK/http-$tag.tsv" >"$WORK/load-$tag.txt" 2>&1 || fail "load $tag: $(cat "$WORK/load-$tag.txt")"
  [ "$(wc -l <"$WORK/local-$tag.tsv")" -ge 500 ] || fail "too few local results ($tag)"
  cmp -s "$WORK/local-$tag.tsv" "$WORK/http-$tag.tsv" \
    || { diff "$WORK/local-$tag.tsv" "$WORK/http-$tag.tsv" | head >&2; fail "HTTP answers differ from aftershock search ($tag)"; }
  echo "ok: $tag: $(wc -l <"$WORK/http-$tag.tsv") result lines identical"
}

CASES=(
  "hybrid rerank --rerank-depth 100 --rerank-weight 0.6"
  "sparse sprf --prf-sparse --prf-docs 3 --prf-terms 8"
  "hybrid dprf_after --prf-dense --prf-docs 3 --prf-interpolate after"
  "hybrid dprf_before --prf-dense --prf-docs 3 --prf-interpolate before --prf-weight 0.4"
  "hybrid both --prf-sparse --prf-dense --prf-docs 2 --prf-interpolate both --prf-normalization zscore"
  "hybrid xrerank --exact --rerank-depth 100"
  "hybrid xboth --exact --prf-sparse --prf-dense --prf-docs 3 --prf-interpolate both"
  "sparse xsprf --exact --prf-sparse --prf-docs 5"
)
for shards in 1 4; do
  build_index "$WORK/c.h5" "$WORK/idx$shards" "$shards" --lambda 200 --dense-index none
  W_PORT=()
  start_worker "a$shards" --index "$WORK/idx$shards"
  start_worker "b$shards" --index "$WORK/idx$shards"
  start_coordinator --recall-sample 0
  wait_ready 20
  for c in "${CASES[@]}"; do
    # shellcheck disable=SC2086
    set -- $c
    mode="$1" tag="$2"; shift 2
    same "$mode" "$shards" "$tag" "$@"
  done
  kill -TERM "$C_PID" "${W_PID[a$shards]}" "${W_PID[b$shards]}"
  wait "$C_PID" "${W_PID[a$shards]}" "${W_PID[b$shards]}" || fail "a server did not exit cleanly on SIGTERM"
done

# Shard-count independence: exact first rounds give the same global lists, so the same feedback and answers.
for tag in xrerank xboth xsprf; do
  cmp -s "$WORK/http-${tag}1.tsv" "$WORK/http-${tag}4.tsv" \
    || { diff "$WORK/http-${tag}1.tsv" "$WORK/http-${tag}4.tsv" | head >&2; fail "$tag: 1 and 4 shards differ"; }
  echo "ok: $tag: 1 shard and 4 shards identical"
done
# The pipeline changes answers (a test that cannot fail would not notice a pipeline that does nothing).
"$CLI" search --index "$WORK/idx4" --corpus "$WORK/c.h5" --mode sparse --k 10 --exact --out "$WORK/plain.tsv" 2>/dev/null \
  || fail "plain exact search"
cmp -s "$WORK/plain.tsv" "$WORK/local-xsprf4.tsv" && fail "sparse PRF returned the plain sparse answers"

# Dense store on disk: one worker reading rows from the shard files answers as the in-memory ones did.
W_PORT=()
start_worker disk --index "$WORK/idx4" --dense-store disk
start_coordinator --recall-sample 0
wait_ready 20
same hybrid 4 drerank --rerank-depth 100 --rerank-weight 0.6
cmp -s "$WORK/http-drerank4.tsv" "$WORK/http-rerank4.tsv" || fail "rerank from a disk store differs from memory"
"$CLI" search --index "$WORK/idx4" --corpus "$WORK/c.h5" --mode hybrid --k 10 --rerank-depth 100 --rerank-weight 0.6 \
  --dense-store disk --out "$WORK/local-disk.tsv" 2>/dev/null || fail "local rerank with --dense-store disk"
cmp -s "$WORK/local-disk.tsv" "$WORK/local-rerank4.tsv" || fail "local rerank from disk differs from memory"
same sparse 4 dsprf --prf-sparse --prf-docs 3 --prf-terms 8
echo "ok: dense store on disk: rerank and sparse PRF identical to memory"
# No replica can search dense exactly (a Flat/none dense index is served exactly): 501 unsupported, not a
# retryable 503.
dq=$(printf '0.1,%.0s' $(seq 1 31))0.1
http_post /v1/search "{\"k\":5,\"dense\":[$dq],\"exact\":true}"
[ "$HTTP_CODE" = 501 ] || fail "exact dense with only a disk store: HTTP $HTTP_CODE (want 501): $HTTP_BODY"
grep -q '"code":"unsupported"' <<<"$HTTP_BODY" || fail "501 body: $HTTP_BODY"
grep -q 'vectors in memory' <<<"$HTTP_BODY" || fail "501 body does not say why: $HTTP_BODY"
echo "ok: exact dense with only a disk store: 501 unsupported"
kill -TERM "$C_PID"
wait "$C_PID" || fail "the coordinator did not exit cleanly on SIGTERM"

# Mixed replicas (disk store + memory store): what the disk replica refuses as unsupported (dense searches)
# is retried on the memory replica, so every request succeeds with the answers of an all-memory cluster.
start_worker mem --index "$WORK/idx4"
start_coordinator --recall-sample 0
wait_ready 20
same dense 4 mxdense --exact
same hybrid 4 mdprf_after --prf-dense --prf-docs 3 --prf-interpolate after
cmp -s "$WORK/http-mdprf_after4.tsv" "$WORK/http-dprf_after4.tsv" || fail "dense PRF on mixed replicas differs from memory"
same hybrid 4 mrerank --rerank-depth 100 --rerank-weight 0.6
cmp -s "$WORK/http-mrerank4.tsv" "$WORK/http-rerank4.tsv" || fail "rerank on mixed replicas differs from memory"
refused=$(metric 'aftershock_shard_errors_total{reason="unsupported",shard="0"}')
retried=$(metric aftershock_retried_requests_total)
if [ "${refused%.*}" -eq 0 ] || [ "${retried%.*}" -eq 0 ]; then
  fail "the disk replica was never asked (unsupported $refused, retried $retried): the test proves nothing"
fi
echo "ok: mixed replicas: dense searches refused by the disk store ($refused on shard 0) retried on the memory one ($retried retries)"
kill -TERM "$C_PID" "${W_PID[disk]}" "${W_PID[mem]}"
wait "$C_PID" "${W_PID[disk]}" "${W_PID[mem]}" || fail "a server did not exit cleanly on SIGTERM"
echo "PASS"
