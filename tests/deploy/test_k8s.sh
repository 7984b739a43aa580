#!/usr/bin/env bash
# deploy/k8s: every kustomization renders offline, every object passes schema validation (types, formats,
# required fields, unknown fields, CRDs too), planted defects are caught, the PrometheusRule matches
# deploy/prometheus/rules.yml, the worker/coordinator wiring is consistent, and the real coordinator accepts
# the ConfigMap's coordinator.ini files. Usage: test_k8s.sh TOOLS_DIR COORDINATOR
source "$(dirname "$0")/lib.sh" "$1"
COORD="$(realpath "$2")"
need_tools
command -v kubectl >/dev/null || { echo "SKIP: kubectl not found"; exit 77; }
V="$TOOLS/validators"
cd "$TOOLS" || exit 1   # node resolves the validators' packages from here

rendered=()
for k in base overlays/example jobs/build-index; do
  out="$WORK/$(tr / - <<<"$k").yaml"
  kubectl kustomize "$SRC/deploy/k8s/$k" >"$out" 2>"$WORK/err" || fail "kubectl kustomize deploy/k8s/$k: $(head -1 "$WORK/err")"
  rendered+=("$out")
done
node "$V/validate-k8s.mjs" "${rendered[@]}" || fail "schema validation (kubernetes-models)"
node "$V/strict-k8s.mjs" "${rendered[@]}" || fail "strict unknown-field check (client-node models)"
node "$V/strict-crd.mjs" "${rendered[@]}" || fail "strict CRD check (prometheus-operator types)"
node "$V/k8s-consistency.mjs" "$WORK/base.yaml" "$WORK/overlays-example.yaml" || fail "worker/coordinator wiring"

# Planted defects: an unknown field at depth, a wrong type, a bad quantity, an unknown CRD field.
base="$WORK/base.yaml"
sed 's/^\( *\)readinessProbe:/\1readinesProbe: {}\n\1readinessProbe:/' "$base" >"$WORK/unknown.yaml"
expect_fail "unknown container field" "readinesProbe: unknown field in V1Container" node "$V/strict-k8s.mjs" "$WORK/unknown.yaml"
sed 's/terminationGracePeriodSeconds: 40/terminationGracePeriodSeconds: forty/' "$base" >"$WORK/type.yaml"
expect_fail "string for an integer" "terminationGracePeriodSeconds" node "$V/validate-k8s.mjs" "$WORK/type.yaml"
sed 's/memory: 8Gi/memory: 8 gigs/' "$base" >"$WORK/quantity.yaml"
expect_fail "malformed quantity" "memory" node "$V/validate-k8s.mjs" "$WORK/quantity.yaml"
sed 's/interval: 15s/intervall: 15s/' "$base" >"$WORK/crd.yaml"
expect_fail "unknown ServiceMonitor field" "intervall" node "$V/strict-crd.mjs" "$WORK/crd.yaml"
sed '/podManagementPolicy: Parallel/{n;s/replicas: 2/replicas: 3/}' "$base" >"$WORK/wiring.yaml"  # the worker StatefulSets
grep -q "replicas: 3" "$WORK/wiring.yaml" || fail "could not plant the wiring defect"
expect_fail "StatefulSet replicas != SHARD_GROUPS" "replicas 3 != SHARD_GROUPS 2" node "$V/k8s-consistency.mjs" "$WORK/wiring.yaml"

# The PrometheusRule is generated from deploy/prometheus/rules.yml; a stale copy fails here.
bash "$SRC/deploy/k8s/gen-prometheusrule.sh" "$WORK/prometheusrule.yaml"
diff -u "$SRC/deploy/k8s/base/prometheusrule.yaml" "$WORK/prometheusrule.yaml" \
  || fail "deploy/k8s/base/prometheusrule.yaml is stale: run deploy/k8s/gen-prometheusrule.sh"

# The worker entry point maps the pod ordinal to its shard group (fake worker binary prints its arguments).
printf '#!/bin/sh\necho "$@"\n' >"$WORK/fake-worker" && chmod +x "$WORK/fake-worker"
entry() { env HOSTNAME="$1" SHARDS="$2" SHARD_GROUPS="$3" INDEX_DIR=/index/x AFTERSHOCK_WORKER="$WORK/fake-worker" \
            sh "$SRC/deploy/k8s/base/worker-entrypoint.sh"; }
[[ "$(entry aftershock-worker-b-1 8 3)" == *"--shards 1,4,7 "* ]] || fail "ordinal 1 of 3 groups over 8 shards: $(entry aftershock-worker-b-1 8 3)"
[[ "$(entry aftershock-worker-a-0 4 2)" == *"--index /index/x --shards 0,2 "* ]] || fail "ordinal 0 of 2 groups over 4 shards"
entry aftershock-worker-a-3 4 3 >/dev/null 2>&1 && fail "an ordinal beyond SHARD_GROUPS must not start"
entry aftershock-worker-a-2 2 3 >/dev/null 2>&1 && fail "an ordinal without a shard must not start"
# The coordinator parses each coordinator.ini (listen moved to 127.0.0.1:0) and lists every worker it names.
for ini in "$SRC/deploy/k8s/base/coordinator.ini" "$SRC/deploy/k8s/overlays/example/coordinator.ini"; do
  sed 's/^listen=.*/listen=127.0.0.1:0/' "$ini" >"$WORK/c.ini"
  rm -f "$WORK/c.port"
  "$COORD" --config "$WORK/c.ini" --port-file "$WORK/c.port" >"$WORK/c.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    if [ -s "$WORK/c.port" ] || ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 0.05
  done
  n=$(curl -s "127.0.0.1:$(cat "$WORK/c.port" 2>/dev/null)/v1/cluster" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["workers"]))' 2>/dev/null || echo 0)
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  want=$(grep '^workers=' "$ini" | grep -o ':7000' | wc -l)
  [ "$n" = "$want" ] || fail "aftershock-coordinator --config $ini: $n workers, want $want: $(head -2 "$WORK/c.log")"
  echo "ok   coordinator --config $(basename "$(dirname "$ini")")/coordinator.ini: $n workers"
done
echo "k8s: ${#rendered[@]} kustomizations rendered and validated"
