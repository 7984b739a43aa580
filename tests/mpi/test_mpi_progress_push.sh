#!/usr/bin/env bash
# Progress and metrics: rank 0 prints periodic progress lines while shards are still being built (ETA unknown
# before the first shard, then estimated); the build pushes its metrics to a Pushgateway (a fake one: a small
# HTTP server recording the PUT, when python3 is there); an unreachable gateway is a warning, not a failure.
source "$(dirname "$0")/lib.sh" "$@"

gen_corpus 1000 "$WORK/c.h5"

# 1. Periodic progress (every 0.2 s; each shard sleeps 0.8 s first) and an unreachable gateway (port 1).
mpibuild 2 --corpus "$WORK/c.h5" --out "$WORK/idx" --shards 4 --progress-interval 0.2 --test-delay-ms 800 \
  --pushgateway 127.0.0.1:1 2>"$WORK/a.log" || { cat "$WORK/a.log" >&2; fail "build with an unreachable gateway must succeed"; }
grep -q '\[rank 0/2\] progress: 0/4 shards, 0/1000 docs (0.0%), 0 resumed, .* ETA unknown' "$WORK/a.log" \
  || { cat "$WORK/a.log" >&2; fail "no periodic progress line before the first shard"; }
grep -Eq '\[rank 0/2\] progress: [1-3]/4 shards, [0-9]+/1000 docs .* ETA [0-9.]+ s' "$WORK/a.log" || fail "no ETA once shards finish"
grep -q '\[rank 0/2\] progress: 4/4 shards, 1000/1000 docs (100.0%)' "$WORK/a.log" || fail "final progress line"
grep -q '\[warning\] .*could not push build metrics .*127.0.0.1:1' "$WORK/a.log" || { cat "$WORK/a.log" >&2; fail "no push warning"; }
[[ -e "$WORK/idx/manifest.json" ]] || fail "manifest missing"

# 2. A bad address is a usage error before anything is built.
rc=0
mpibuild 1 --corpus "$WORK/c.h5" --out "$WORK/idx_u" --pushgateway 'a/b' >"$WORK/u.log" 2>&1 || rc=$?
[[ $rc -ne 0 && $rc -lt 124 ]] && grep -q 'expected host:port' "$WORK/u.log" || { cat "$WORK/u.log" >&2; fail "bad --pushgateway accepted"; }

# 3. A fake Pushgateway records one push (POST or PUT).
if command -v python3 >/dev/null; then
  cat >"$WORK/gateway.py" <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_PUT(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(sys.argv[1], "wb") as f:
            f.write(self.path.encode() + b"\n" + body)
        self.send_response(200); self.end_headers()
    do_POST = do_PUT  # prometheus-cpp's Gateway::Push() sends POST (replace same-name metrics); both are valid
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[2], "w").write(str(s.server_address[1]))
s.handle_request()
PY
  python3 "$WORK/gateway.py" "$WORK/pushed.txt" "$WORK/port" &
  BG_PIDS+=($!)
  gw=$!
  for _ in $(seq 1 100); do [[ -s "$WORK/port" ]] && break; sleep 0.1; done
  [[ -s "$WORK/port" ]] || fail "fake gateway did not start"
  mpibuild 2 --corpus "$WORK/c.h5" --out "$WORK/idx" --shards 4 --pushgateway "127.0.0.1:$(cat "$WORK/port")" 2>"$WORK/p.log" \
    || { cat "$WORK/p.log" >&2; fail "build with a gateway"; }
  wait_bg "$gw" 10
  head -1 "$WORK/pushed.txt" | grep -qx '/metrics/job/aftershock_build/index/idx' || fail "push path: $(head -1 "$WORK/pushed.txt")"
  grep -qx 'aftershock_build_success 1' "$WORK/pushed.txt" || fail "aftershock_build_success"
  grep -qx 'aftershock_build_shards_resumed 4' "$WORK/pushed.txt" || fail "aftershock_build_shards_resumed (all 4 resumed)"
  grep -qx 'aftershock_build_documents 1000' "$WORK/pushed.txt" || fail "aftershock_build_documents"
  grep -q '^aftershock_build_phase_seconds{phase="build"} ' "$WORK/pushed.txt" || fail "phase metric"
  grep -q '^# TYPE aftershock_build_wall_seconds gauge$' "$WORK/pushed.txt" || fail "TYPE line"
  grep -q 'pushed build metrics to 127.0.0.1' "$WORK/p.log" || fail "no 'pushed' log line"
else
  echo "python3 not found: fake Pushgateway part skipped"
fi
passed mpi_progress_push
