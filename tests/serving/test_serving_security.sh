#!/usr/bin/env bash
# Bad input and access control on the wire: every malformed HTTP request gets a 4xx JSON error naming the
# field and the coordinator keeps serving; garbage on the worker port closes that connection, is counted, and
# the worker keeps serving; idle and slow connections time out; the connection cap holds; bearer-token auth
# answers 401 without saying why, exempts /healthz and /readyz, and guards /metrics unless told otherwise.
source "$(dirname "$0")/lib.sh" "$@"

"$CLI" gen --docs 2000 --queries 20 --seed 9 --dense-dim 8 --out "$WORK/c.h5" >"$WORK/gen.log" 2>&1 || fail "gen"
build_index "$WORK/c.h5" "$WORK/idx" 2 --lambda 100
start_worker a --index "$WORK/idx" --metrics-listen "127.0.0.1:0" --idle-timeout-ms 1000 --frame-timeout-ms 500 --max-connections 8
echo "secret-token-1" >"$WORK/tokens"
start_coordinator --recall-sample 0 --auth-tokens-file "$WORK/tokens" --max-connections 6 --idle-timeout-ms 1000 \
  --max-body-bytes 4096 --max-batch 4
wait_ready 20
AUTH=(-H "Authorization: Bearer secret-token-1")
post() {  # post BODY: sets HTTP_CODE / HTTP_BODY (with the token)
  local out
  out=$(curl -s --max-time 10 "${AUTH[@]}" -X POST --data-binary "$1" -w '\n%{http_code}' "127.0.0.1:$C_PORT${2:-/v1/search}")
  HTTP_CODE="${out##*$'\n'}"
  HTTP_BODY="${out%$'\n'*}"
}
GOOD='{"k":3,"sparse":{"indices":[1996],"values":[1.0]}}'

# Access control.
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data "$GOOD" "127.0.0.1:$C_PORT/v1/search")" = 401 ] || fail "no token must be 401"
r=$(curl -s -D - -H "Authorization: Bearer secret-token-2" -X POST --data "$GOOD" "127.0.0.1:$C_PORT/v1/search")
grep -q "^HTTP/1.1 401" <<<"$r" || fail "wrong token must be 401: $r"
grep -qi "^www-authenticate: Bearer" <<<"$r" || fail "401 without WWW-Authenticate"
grep -q '"message":"missing or invalid bearer token"' <<<"$r" || fail "401 body: $r"
[ "$(curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:$C_PORT/healthz")" = 200 ] || fail "/healthz must stay open"
[ "$(curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:$C_PORT/readyz")" = 200 ] || fail "/readyz must stay open"
[ "$(curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:$C_PORT/metrics")" = 401 ] || fail "/metrics must need the token"
[ "$(curl -s -o /dev/null -w '%{http_code}' "${AUTH[@]}" "127.0.0.1:$C_PORT/metrics")" = 200 ] || fail "/metrics with the token"
post "$GOOD"; [ "$HTTP_CODE" = 200 ] || fail "good request with token: $HTTP_CODE $HTTP_BODY"
echo "ok: bearer auth (401 + WWW-Authenticate without a reason, health open, metrics guarded)"

# Bad input: status, error code and the field named; the server keeps answering.
check() {  # check BODY STATUS CODE FIELD [PATH]
  post "$1" "${5:-/v1/search}"
  [ "$HTTP_CODE" = "$2" ] || fail "body $1: expected $2, got $HTTP_CODE $HTTP_BODY"
  grep -q "\"code\":\"$3\"" <<<"$HTTP_BODY" || fail "body $1: expected code $3: $HTTP_BODY"
  grep -qF "$4" <<<"$HTTP_BODY" || fail "body $1: message does not name $4: $HTTP_BODY"
}
check '{"k":3,"sparse":{"indices":[1996],"values":[1.0]' 400 invalid_json "malformed JSON"
check '{"k":"3","sparse":{"indices":[1996],"values":[1.0]}}' 422 invalid_field "k:"
check '{"k":0,"sparse":{"indices":[1996],"values":[1.0]}}' 422 invalid_field "k:"
check '{"k":99999999,"sparse":{"indices":[1996],"values":[1.0]}}' 422 invalid_field "k:"
check '{"sparse":{"indices":[5,5],"values":[1,1]}}' 422 invalid_field "duplicate index 5"
check '{"sparse":{"indices":[40000],"values":[1]}}' 422 invalid_field "sparse.indices[0]"
check '{"sparse":{"indices":[1,2],"values":[1]}}' 422 invalid_field "sparse"
check '{"sparse":{"indices":[1],"values":[Infinity]}}' 400 invalid_json "malformed JSON"
check '{"dense":[1,2,3]}' 422 invalid_field "dense"
check '{"dense":[1,2,3,4,5,6,7,8],"fusion":{"method":"borda"}}' 422 invalid_field "fusion.method"
check '{"dense":[1,2,3,4,5,6,7,8],"timeout_ms":-1}' 422 invalid_field "timeout_ms"
check '{"dense":[1,2,3,4,5,6,7,8],"min_coverage":2}' 422 invalid_field "min_coverage"
check "$(printf '{"dense":[1,2,3,4,5,6,7,8],"x":"\xc3\x28"}')" 400 invalid_json "malformed JSON"
check "$(printf '%0.s[' $(seq 1 40))" 400 invalid_json "nested deeper"
check "{\"dense\":[$(printf '1,%.0s' $(seq 1 3000))1]}" 413 body_too_large "4096 bytes"
check '{"queries":[{"dense":[1,2,3,4,5,6,7,8]},{"dense":[1,2,3,4,5,6,7,8]},{"dense":[1,2,3,4,5,6,7,8]},{"dense":[1,2,3,4,5,6,7,8]},{"dense":[1,2,3,4,5,6,7,8]}]}' 413 batch_too_large "queries" /v1/search/batch
check '{}' 404 not_found "/v1/nope" /v1/nope
[ "$(curl -s -o /dev/null -w '%{http_code}' "${AUTH[@]}" "127.0.0.1:$C_PORT/v1/search")" = 405 ] || fail "GET /v1/search must be 405"
post "$GOOD"; [ "$HTTP_CODE" = 200 ] || fail "coordinator stopped serving after bad input: $HTTP_CODE"
echo "ok: bad HTTP input answered with 4xx naming the field; still serving"

# Idle and slow HTTP connections are closed by the server; the connection cap holds.
exec 5<>"/dev/tcp/127.0.0.1/$C_PORT"
printf 'POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"k":' >&5  # stalls mid-body
timeout 15 cat <&5 >/dev/null || fail "a stalled HTTP request was not cut off"
exec 5<&-
held=()
for i in $(seq 1 8); do exec {fd}<>"/dev/tcp/127.0.0.1/$C_PORT"; held+=("$fd"); done
sleep 0.3
# (a curl now would itself be over the cap: read the counter after letting go of the connections)
for fd in "${held[@]}"; do exec {fd}<&-; done
sleep 1.2
n=$(curl -s "${AUTH[@]}" "127.0.0.1:$C_PORT/metrics" | awk '/^aftershock_http_rejected_connections_total/{print int($2)}')
[ "${n:-0}" -ge 2 ] || fail "connection cap (6) not enforced with 8 idle connections: ${n:-0} rejected"
post "$GOOD"; [ "$HTTP_CODE" = 200 ] || fail "coordinator stopped serving after the connection tests"
echo "ok: stalled request cut off; connections over the cap refused; still serving"

# Garbage on the worker port: connection closed, counted; the worker keeps serving.
wport=${W_PORT[a]}
printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' | timeout 5 bash -c "cat >/dev/tcp/127.0.0.1/$wport" || true
exec 6<>"/dev/tcp/127.0.0.1/$wport"
# An oversized frame of the current protocol version (read from the source), so that it is refused for its size.
wire_version=$(sed -n 's/.*kVersion = \([0-9]*\);.*/\1/p' "$(dirname "$0")/../../common/include/aftershock/common/wire/protocol.hpp")
[[ "$wire_version" =~ ^[0-9]+$ && "$wire_version" -lt 256 ]] || fail "protocol version not found: '$wire_version'"
printf "AFSK\\x$(printf %02x "$wire_version")\\x00\\x05\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\xff\\xff\\xff\\x7f\\x00\\x00\\x00\\x00" >&6
timeout 5 cat <&6 >/dev/null || fail "worker kept an oversized frame's connection open"
exec 6<&-
exec 7<>"/dev/tcp/127.0.0.1/$wport"
printf 'AFSK' >&7  # a truncated header, then silence: the idle timeout closes it
timeout 5 cat <&7 >/dev/null || fail "worker kept a truncated header's connection open"
exec 7<&-
sleep 0.3
murl=$(sed -n 's|.*metrics on http://\([0-9.:]*\)/metrics.*|\1|p' "$WORK/worker-a.log" | head -1)
errors=$(curl -s "$murl/metrics" | awk '/^aftershock_worker_protocol_errors_total/{s += $2} END {print s + 0}')
[ "$errors" -ge 3 ] || fail "worker counted $errors protocol errors, expected at least 3"
post "$GOOD"; [ "$HTTP_CODE" = 200 ] || fail "worker stopped serving after garbage: $HTTP_CODE $HTTP_BODY"
kill -0 "${W_PID[a]}" || fail "worker died"
echo "ok: worker closed garbage, oversized and truncated frames and kept serving"

# --allow-from: a worker that admits only another address refuses this one (connection closed, counted).
start_worker locked --index "$WORK/idx" --allow-from 10.9.8.7 --metrics-listen "127.0.0.1:0"
exec 8<>"/dev/tcp/127.0.0.1/${W_PORT[locked]}"
timeout 5 cat <&8 >/dev/null || fail "worker --allow-from kept a connection from 127.0.0.1"
exec 8<&-
murl=$(sed -n 's|.*metrics on http://\([0-9.:]*\)/metrics.*|\1|p' "$WORK/worker-locked.log" | head -1)
wmetrics=$(curl -s "$murl/metrics")  # whole output first: grep -q exiting early could SIGPIPE curl under pipefail
grep -q 'aftershock_worker_protocol_errors_total{reason="peer_not_allowed"} 1' <<<"$wmetrics" || fail "refused peer not counted"
echo "ok: --allow-from refuses other peers"
echo "PASS"
