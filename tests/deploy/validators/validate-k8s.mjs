// Offline schema validation of Kubernetes YAML: kubernetes-models (validators generated from the upstream
// OpenAPI spec: types, required fields, quantity formats, enums) for core kinds, and
// @kubernetes-models/prometheus-operator (generated from the CRDs) for ServiceMonitor / PrometheusRule.
// Unknown fields pass here: strict-k8s.mjs and strict-crd.mjs catch those. Usage: node validate-k8s.mjs FILE...
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { parseAllDocuments } from "yaml";
const require = createRequire(import.meta.url);
let errors = 0, checked = 0;
async function model(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : [null, apiVersion];
  if (group === "monitoring.coreos.com")  // ESM-only package
    return (await import(`@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`))[kind];
  return require(`kubernetes-models/${group ? group + "/" : ""}${version}/${kind}`)[kind];
}
for (const file of process.argv.slice(2)) {
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (doc.errors.length) { console.error(`FAIL ${file}: YAML error ${doc.errors[0].message}`); errors++; continue; }
    const obj = doc.toJS();
    if (!obj) continue;
    let Model;
    try { Model = await model(obj.apiVersion, obj.kind); } catch { console.error(`FAIL ${file}: unknown kind ${obj.apiVersion} ${obj.kind}`); errors++; continue; }
    try { new Model(obj).validate(); checked++; console.log(`ok   ${file}: ${obj.kind}/${obj.metadata?.name}`); }
    catch (e) { errors++; console.error(`FAIL ${file}: ${obj.kind}/${obj.metadata?.name}: ${e.message}`); }
  }
}
console.log(`${checked} passed, ${errors} failed`);
process.exit(errors ? 1 : 0);
