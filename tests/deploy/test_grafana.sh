#!/usr/bin/env bash
# deploy/grafana: the dashboard is what gen_dashboard.py writes, type-checks against @grafana/schema (tsc and
# ajv over the generated JSON Schema), its PromQL parses (promtool) and only names series that rules.yml
# records or the binaries export; provisioning files parse; planted defects fail. Usage: test_grafana.sh TOOLS_DIR
source "$(dirname "$0")/lib.sh" "$1"
need_tools
command -v promtool >/dev/null || { echo "SKIP: promtool not found (Debian package prometheus)"; exit 77; }
G="$SRC/deploy/grafana"
V="$TOOLS/validators"
cd "$TOOLS" || exit 1

cp "$G/gen_dashboard.py" "$WORK/" && python3 "$WORK/gen_dashboard.py"
diff -q "$G/aftershock.json" "$WORK/aftershock.json" >/dev/null || fail "deploy/grafana/aftershock.json is stale: run deploy/grafana/gen_dashboard.py"

node "$V/check-dashboard.mjs" "$G/aftershock.json" || fail "dashboard type check (@grafana/schema, tsc)"
[ -s dashboard.schema.json ] || node_modules/.bin/ts-json-schema-generator --no-type-check --type Dashboard -o dashboard.schema.json \
  --path node_modules/@grafana/schema/dist/types/raw/dashboard/x/types.gen.d.ts >/dev/null || fail "JSON Schema generation"
node "$V/ajv-dashboard.mjs" "$G/aftershock.json" || fail "dashboard JSON Schema check (ajv)"

python3 "$V/dash-promql.py" "$G/aftershock.json" >"$WORK/dash-rules.json"
promtool check rules "$WORK/dash-rules.json" || fail "dashboard PromQL does not parse"
# Every series a panel reads exists: a recording rule of rules.yml or a metric the binaries register.
known=$(grep -ho 'record: [a-z_:0-9]*' "$SRC/deploy/prometheus/rules.yml" | cut -d' ' -f2;
        grep -rho 'Name("aftershock_[a-z_]*")' "$SRC/coordinator/src" "$SRC/worker/src" | sed 's/Name("\(.*\)")/\1/')
for s in $(python3 -c '
import json, re, sys
for r in json.load(open(sys.argv[1]))["groups"][0]["rules"]:
    for m in re.findall(r"\b(aftershock[_:][a-z_:0-9]*)", r["expr"]):
        print(re.sub(r"_(bucket|count|sum)$", "", m))' "$WORK/dash-rules.json" | sort -u); do
  grep -qx "$s" <<<"$known" || fail "dashboard reads $s, which no rule records and no binary exports"
done
node -e 'const y = require("yaml"), fs = require("fs");
  for (const f of process.argv.slice(1)) { const d = y.parse(fs.readFileSync(f, "utf8"));
    if (d.apiVersion !== 1 || !(d.datasources || d.providers)) throw new Error(`${f}: not a Grafana provisioning file`); }' \
  "$G"/provisioning/*/*.yaml || fail "provisioning YAML"

# Planted defects: an unknown panel key, a string where a number belongs, broken PromQL.
python3 - "$G/aftershock.json" "$WORK" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
bad = json.loads(json.dumps(d)); bad["panels"][0]["titel"] = "x"; json.dump(bad, open(sys.argv[2] + "/unknown.json", "w"))
bad = json.loads(json.dumps(d)); bad["panels"][1]["gridPos"]["w"] = "12"; json.dump(bad, open(sys.argv[2] + "/type.json", "w"))
bad = json.loads(json.dumps(d)); bad["panels"][2]["targets"][0]["expr"] = "rate(aftershock_requests_total[5m]"
json.dump(bad, open(sys.argv[2] + "/promql.json", "w"))
PY
expect_fail "unknown panel key (tsc)" "titel" node "$V/check-dashboard.mjs" "$WORK/unknown.json"
expect_fail "unknown panel key (ajv)" "0 passed, 1 failed" node "$V/ajv-dashboard.mjs" "$WORK/unknown.json"
expect_fail "string gridPos.w" "not assignable to type 'number'" node "$V/check-dashboard.mjs" "$WORK/type.json"
python3 "$V/dash-promql.py" "$WORK/promql.json" >"$WORK/bad-rules.json"
expect_fail "broken PromQL" "parse error" promtool check rules "$WORK/bad-rules.json"
echo "grafana: dashboard and provisioning valid"
