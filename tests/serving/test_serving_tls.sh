#!/usr/bin/env bash
# TLS and the worker shared secret, end to end. Certificates are made here with the openssl CLI (an EC test CA,
# a server certificate for IP 127.0.0.1, a client certificate, and an unrelated CA). Asserts:
#  - HTTPS to the coordinator, TLS to the workers: every answer (ids and scores) equals plain HTTP over plain TCP
#    on the same index;
#  - plain HTTP to the HTTPS port fails cleanly, is counted, and the coordinator keeps serving;
#  - a coordinator trusting another CA cannot use a TLS worker (not ready, "certificate verify failed" logged);
#  - a worker requiring client certificates (mutual TLS) refuses a coordinator without one and serves one with one;
#  - shared secret: the right secret serves (also inside TLS); a wrong or missing one is refused, logged by the
#    coordinator and counted by the worker, which keeps serving.
source "$(dirname "$0")/lib.sh" "$@"
command -v openssl >/dev/null || { echo "SKIP: openssl not found"; exit 77; }

PKI="$WORK/pki"
mkdir -p "$PKI"
mkca() {  # mkca NAME: a self-signed EC P-256 CA
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$PKI/$1.key" -out "$PKI/$1.crt" \
    -subj "/CN=aftershock test $1" -days 2 >>"$WORK/pki.log" 2>&1 || fail "openssl: CA $1"
}
mkcert() {  # mkcert NAME CA EXTENSION: an EC P-256 key and a certificate signed by CA
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$PKI/$1.key" -out "$PKI/$1.csr" \
    -subj "/CN=$1" >>"$WORK/pki.log" 2>&1 || fail "openssl: key $1"
  openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/$2.crt" -CAkey "$PKI/$2.key" -CAcreateserial -days 2 -out "$PKI/$1.crt" \
    -extfile <(echo "$3") >>"$WORK/pki.log" 2>&1 || fail "openssl: certificate $1"
}
mkca ca
mkca other-ca
mkcert server ca "subjectAltName=IP:127.0.0.1"
mkcert client ca "extendedKeyUsage=clientAuth"
SERVER_TLS=(--tls-cert "$PKI/server.crt" --tls-key "$PKI/server.key")

"$CLI" gen --docs 3000 --queries 40 --seed 11 --dense-dim 8 --out "$WORK/c.h5" >"$WORK/gen.log" 2>&1 || fail "gen"
build_index "$WORK/c.h5" "$WORK/idx" 2 --lambda 100

addr() { echo "127.0.0.1:${W_PORT[$1]}"; }
# worker_metric NAME LINE_PREFIX: a worker's counter (0 when absent), from its --metrics-listen endpoint.
worker_metric() {
  local url out
  url=$(sed -n 's|.*metrics on http://\([0-9.:]*\)/metrics.*|\1|p' "$WORK/worker-$1.log" | head -1)
  out=$(curl -s --max-time 5 "$url/metrics")
  awk -v p="$2" '!found && index($0, p) == 1 { v = $NF; found = 1 } END { print found ? v : 0 }' <<<"$out"
}
# code URL [CURL ARGS...]: the HTTP status curl gets (000: no HTTP answer).
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" || true; }
# wait_log FILE PATTERN: until FILE has a line matching PATTERN (10 s at most).
wait_log() {
  for _ in $(seq 1 100); do grep -qE "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  fail "$(basename "$1") never logged /$2/"
}
# wait_code CODE URL [CURL ARGS...]: until URL answers CODE (20 s at most).
wait_code() {
  local want="$1"; shift
  for _ in $(seq 1 200); do [ "$(code "$@")" = "$want" ] && return 0; sleep 0.1; done
  fail "$1 never answered $want"
}
GOOD='{"k":5,"sparse":{"indices":[1996,2003],"values":[1.0,0.5]}}'
search_code() { code -X POST --data "$GOOD" "$@"; }

start_worker plain --index "$WORK/idx"
start_worker tls --index "$WORK/idx" --metrics-listen 127.0.0.1:0 "${SERVER_TLS[@]}"
start_worker mtls --index "$WORK/idx" --metrics-listen 127.0.0.1:0 "${SERVER_TLS[@]}" --tls-ca "$PKI/ca.crt"
printf 'correct-horse-battery-staple-42\n' >"$WORK/secret"
printf 'correct-horse-battery-staple-43\n' >"$WORK/wrong-secret"
start_worker secret --index "$WORK/idx" --metrics-listen 127.0.0.1:0 --shared-secret-file "$WORK/secret"

# HTTPS + TLS to the worker answers exactly what plain HTTP + plain TCP answers.
start_coordinator_on plain "$(addr plain)" --recall-sample 0
PLAIN="127.0.0.1:$C_PORT"
start_coordinator_on https "$(addr tls)" --recall-sample 0 "${SERVER_TLS[@]}" --worker-tls-ca "$PKI/ca.crt"
HTTPS="https://127.0.0.1:$C_PORT"
CA=(--cacert "$PKI/ca.crt")
wait_code 200 "$PLAIN/readyz"
wait_code 200 "${CA[@]}" "$HTTPS/readyz"
"$CLI" load --url "$PLAIN" --corpus "$WORK/c.h5" --k 10 --concurrency 2 --fail-on-error --out "$WORK/plain.tsv" >"$WORK/load-plain.txt" 2>&1 \
  || fail "load over HTTP: $(cat "$WORK/load-plain.txt")"
"$CLI" load --url "$HTTPS" --ca "$PKI/ca.crt" --corpus "$WORK/c.h5" --k 10 --concurrency 2 --fail-on-error --out "$WORK/https.tsv" \
  >"$WORK/load-https.txt" 2>&1 || fail "load over HTTPS: $(cat "$WORK/load-https.txt")"
[ "$(wc -l <"$WORK/plain.tsv")" -ge 300 ] || fail "too few results over HTTP"
cmp -s "$WORK/plain.tsv" "$WORK/https.tsv" || { diff "$WORK/plain.tsv" "$WORK/https.tsv" | head >&2; fail "HTTPS answers differ from HTTP"; }
# Eight clients whose first handshakes verify the same CA certificate at once, three times: OpenSSL 3.0 wrote that
# certificate's cached extensions from two threads (openssl/openssl#25202) until make_client_tls filled the cache up
# front; the TSan stage (scripts/sanitize.sh tsan) reported it in about 1 of 5 such runs.
for run in 1 2 3; do
  "$CLI" load --url "$HTTPS" --ca "$PKI/ca.crt" --corpus "$WORK/c.h5" --k 10 --concurrency 8 --max-queries 32 --fail-on-error \
    --out /dev/null >"$WORK/load-https8.txt" 2>&1 || fail "8 HTTPS clients at once (run $run): $(cat "$WORK/load-https8.txt")"
done
hits() { grep -o '"hits":\[[^]]*\]' <<<"$1"; }
a=$(curl -s --max-time 5 -X POST --data "$GOOD" "$PLAIN/v1/search")
b=$(curl -s --max-time 5 "${CA[@]}" -X POST --data "$GOOD" "$HTTPS/v1/search")
[ -n "$(hits "$a")" ] && [ "$(hits "$a")" = "$(hits "$b")" ] || fail "curl over HTTPS answered differently: $b vs $a"
echo "ok: HTTPS + TLS workers: $(wc -l <"$WORK/https.tsv") result lines identical to plain HTTP"

# Plain HTTP to the HTTPS port, an untrusted client and a stalled handshake: each closes only its own
# connection, the first two are counted, and HTTPS keeps serving.
[ "$(code "http://${HTTPS#https://}/healthz")" = 000 ] || fail "plain HTTP to the HTTPS port got an HTTP answer"
[ "$(code "$HTTPS/healthz")" = 000 ] || fail "a client without the CA got an answer"
exec 5<>"/dev/tcp/127.0.0.1/${HTTPS##*:}"  # connects, never says hello (closed at the handshake timeout)
[ "$(search_code "${CA[@]}" "$HTTPS/v1/search")" = 200 ] || fail "HTTPS stopped serving after bad handshakes"
exec 5<&-
n=$(curl -s --max-time 5 "${CA[@]}" "$HTTPS/metrics" | awk '/^aftershock_http_tls_handshake_failures_total/{print int($2)}')
[ "${n:-0}" -ge 2 ] || fail "bad TLS handshakes counted ${n:-0} times, expected >= 2"
kill -0 "$C_PID" || fail "the HTTPS coordinator died"
echo "ok: plain HTTP and untrusted clients on the HTTPS port refused and counted ($n); still serving"

# Failing set-ups, side by side: each coordinator must stay not ready and say why.
start_coordinator_on wrongca "$(addr tls)" --recall-sample 0 --worker-tls-ca "$PKI/other-ca.crt"
WRONGCA=$C_PORT
start_coordinator_on nocert "$(addr mtls)" --recall-sample 0 --worker-tls-ca "$PKI/ca.crt"
NOCERT=$C_PORT
start_coordinator_on wrongsecret "$(addr secret)" --recall-sample 0 --shared-secret-file "$WORK/wrong-secret"
WRONGSECRET=$C_PORT
start_coordinator_on nosecret "$(addr secret)" --recall-sample 0
NOSECRET=$C_PORT
wait_log "$WORK/coordinator-wrongca.log" "unavailable: .*certificate verify failed"
wait_log "$WORK/coordinator-nocert.log" "unavailable: .*(certificate required|alert)"
wait_log "$WORK/coordinator-wrongsecret.log" "unavailable: .*refused the shared secret"
wait_log "$WORK/coordinator-nosecret.log" "unavailable: .*requires a shared secret"
for p in "$WRONGCA" "$NOCERT" "$WRONGSECRET" "$NOSECRET"; do
  [ "$(code "127.0.0.1:$p/readyz")" = 503 ] || fail "coordinator on $p is ready with a worker it must not use"
  # (422 when the coordinator never learned the index, 503 when it did: never 200)
  [ "$(search_code "127.0.0.1:$p/v1/search")" != 200 ] || fail "coordinator on $p answered a search without its worker"
done
[ "$(worker_metric tls 'aftershock_worker_protocol_errors_total{reason="tls_handshake"}')" -ge 1 ] || fail "TLS worker did not count the refused handshake"
[ "$(worker_metric mtls 'aftershock_worker_protocol_errors_total{reason="tls_handshake"}')" -ge 1 ] || fail "mTLS worker did not count the certificate-less client"
[ "$(worker_metric secret 'aftershock_worker_protocol_errors_total{reason="auth_failed"}')" -ge 1 ] || fail "wrong secret not counted"
[ "$(worker_metric secret 'aftershock_worker_protocol_errors_total{reason="auth_missing"}')" -ge 1 ] || fail "missing secret not counted"
echo "ok: wrong CA, no client certificate, wrong secret, no secret: refused, logged, counted"

# The right client certificate and the right secret (file, then environment) are served.
start_coordinator_on mtls "$(addr mtls)" --recall-sample 0 --worker-tls-ca "$PKI/ca.crt" \
  --worker-tls-cert "$PKI/client.crt" --worker-tls-key "$PKI/client.key"
wait_code 200 "127.0.0.1:$C_PORT/readyz"
[ "$(search_code "127.0.0.1:$C_PORT/v1/search")" = 200 ] || fail "mutual TLS search failed"
start_coordinator_on secret "$(addr secret)" --recall-sample 0 --shared-secret-file "$WORK/secret"
wait_code 200 "127.0.0.1:$C_PORT/readyz"
[ "$(search_code "127.0.0.1:$C_PORT/v1/search")" = 200 ] || fail "search with the shared secret failed"
AFTERSHOCK_SHARED_SECRET=correct-horse-battery-staple-42 start_coordinator_on secretenv "$(addr secret)" --recall-sample 0
wait_code 200 "127.0.0.1:$C_PORT/readyz"
# Both at once: the challenge runs inside the TLS session.
start_worker both --index "$WORK/idx" "${SERVER_TLS[@]}" --shared-secret-file "$WORK/secret"
start_coordinator_on both "$(addr both)" --recall-sample 0 --worker-tls-ca "$PKI/ca.crt" --shared-secret-file "$WORK/secret"
wait_code 200 "127.0.0.1:$C_PORT/readyz"
[ "$(search_code "127.0.0.1:$C_PORT/v1/search")" = 200 ] || fail "search over TLS with the shared secret failed"
kill -0 "${W_PID[secret]}" && kill -0 "${W_PID[mtls]}" && kill -0 "${W_PID[tls]}" || fail "a worker died"
echo "ok: client certificate, shared secret (file, environment, and inside TLS) accepted; workers kept serving"
echo "PASS"
