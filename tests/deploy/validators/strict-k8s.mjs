// (Copied from shared/examples/validators; skips prometheus-operator kinds.)
// Strict unknown-field / type check of Kubernetes YAML against @kubernetes/client-node's
// models (generated from the upstream OpenAPI spec, release-1.36). Complements validate-k8s.mjs,
// whose kubernetes-models validators check required fields, formats and enums but allow unknown keys.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
// deep import: the package index pulls undici 8, which needs Node >= 22
import * as k8s from "@kubernetes/client-node/dist/gen/models/all.js";
const PRIM = new Set(["string", "number", "boolean", "Date", "any", "object", "IntOrString", "RawExtension"]);
function check(v, type, path, errs) {
  if (v === null || v === undefined) return;
  let m;
  if ((m = /^Array<(.+)>$/.exec(type))) {
    if (!Array.isArray(v)) return errs.push(`${path}: expected array`);
    v.forEach((e, i) => check(e, m[1], `${path}[${i}]`, errs));
  } else if ((m = /^\{ \[key: string\]: (.+); \}$/.exec(type))) {
    if (typeof v !== "object" || Array.isArray(v)) return errs.push(`${path}: expected map`);
    for (const [k, e] of Object.entries(v)) check(e, m[1], `${path}.${k}`, errs);
  } else if (PRIM.has(type)) {
    if (type === "number" && typeof v !== "number") errs.push(`${path}: expected number, got ${JSON.stringify(v)}`);
    if (type === "boolean" && typeof v !== "boolean") errs.push(`${path}: expected boolean`);
    if (type === "string" && typeof v !== "string") errs.push(`${path}: expected string, got ${JSON.stringify(v)}`);
  } else {
    const cls = k8s[type];
    if (!cls?.attributeTypeMap) return; // unknown model name: skip
    if (typeof v !== "object" || Array.isArray(v)) return errs.push(`${path}: expected object ${type}`);
    const attrs = new Map(cls.attributeTypeMap.map((a) => [a.baseName, a.type]));
    for (const [k, e] of Object.entries(v)) {
      if (!attrs.has(k)) errs.push(`${path}.${k}: unknown field in ${type}`);
      else check(e, attrs.get(k), `${path}.${k}`, errs);
    }
  }
}
let bad = 0, good = 0;
for (const file of process.argv.slice(2)) {
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    const obj = doc.toJS();
    if (!obj || obj.kind === "Kustomization") continue;
    if (obj.apiVersion?.startsWith("monitoring.coreos.com/")) continue; // CRDs: strict-crd.mjs
    const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : ["", obj.apiVersion];
    const V = version[0].toUpperCase() + version.slice(1);
    const cands = [`${V}${obj.kind}`, `CoreV1${obj.kind}`, `${group.split(".")[0].replace(/^./, (c) => c.toUpperCase())}${V}${obj.kind}`];
    const type = cands.find((c) => k8s[c]?.attributeTypeMap);
    if (!type) { bad++; console.error(`FAIL ${file}: no model for ${obj.apiVersion} ${obj.kind}`); continue; }
    const errs = [];
    check(obj, type, obj.kind, errs);
    if (errs.length) { bad++; console.error(`FAIL ${file}: ${obj.kind}/${obj.metadata?.name}\n  ` + errs.join("\n  ")); }
    else { good++; console.log(`ok   ${file}: ${obj.kind}/${obj.metadata?.name}`); }
  }
}
console.log(`${good} passed, ${bad} failed`);
process.exit(bad ? 1 : 0);
