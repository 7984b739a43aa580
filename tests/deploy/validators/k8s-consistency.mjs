// Wiring checks schemas cannot make, on rendered kustomizations: every worker StatefulSet has SHARD_GROUPS
// replicas, its serviceName is a headless Service, and the coordinator's --workers list names exactly the
// worker pods (<statefulset>-<ordinal>.<service>:7000). Usage: node k8s-consistency.mjs RENDERED.yaml...
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
let bad = 0;
for (const file of process.argv.slice(2)) {
  const objs = parseAllDocuments(readFileSync(file, "utf8")).map((d) => d.toJS()).filter(Boolean);
  const errs = [];
  const sets = objs.filter((o) => o.kind === "StatefulSet" && o.spec.template.metadata.labels["app.kubernetes.io/component"] === "worker");
  const cm = (prefix) => objs.find((o) => o.kind === "ConfigMap" && o.metadata.name.startsWith(prefix + "-"));
  const env = cm("aftershock-worker")?.data ?? {};
  const ini = cm("aftershock-coordinator")?.data?.["coordinator.ini"] ?? "";
  const groups = Number(env.SHARD_GROUPS), shards = Number(env.SHARDS);
  if (!sets.length) errs.push("no worker StatefulSet");
  if (!(groups >= 1 && shards >= groups)) errs.push(`need 1 <= SHARD_GROUPS (${env.SHARD_GROUPS}) <= SHARDS (${env.SHARDS})`);
  const want = new Set();
  for (const s of sets) {
    if (s.spec.replicas !== groups) errs.push(`StatefulSet ${s.metadata.name}: replicas ${s.spec.replicas} != SHARD_GROUPS ${groups}`);
    const svc = objs.find((o) => o.kind === "Service" && o.metadata.name === s.spec.serviceName);
    if (svc?.spec?.clusterIP !== "None") errs.push(`StatefulSet ${s.metadata.name}: serviceName ${s.spec.serviceName} is not a headless Service`);
    for (let i = 0; i < s.spec.replicas; i++) want.add(`${s.metadata.name}-${i}.${s.spec.serviceName}:7000`);
  }
  const line = /^workers\s*=\s*"?([^"\n]*)"?\s*$/m.exec(ini);
  const have = new Set((line?.[1] ?? "").split(",").map((x) => x.trim()).filter(Boolean));
  for (const w of want) if (!have.has(w)) errs.push(`coordinator.ini workers lacks ${w}`);
  for (const w of have) if (!want.has(w)) errs.push(`coordinator.ini workers names ${w}, which is no worker pod`);
  if (errs.length) { bad++; console.error(`FAIL ${file}\n  ${errs.join("\n  ")}`); }
  else console.log(`ok   ${file}: ${sets.length} replica sets x ${groups} shard groups, ${shards} shards, ${have.size} workers`);
}
process.exit(bad ? 1 : 0);
