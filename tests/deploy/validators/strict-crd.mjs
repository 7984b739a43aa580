// Strict unknown-field check of prometheus-operator objects (ServiceMonitor, PrometheusRule): the CRD schemas
// allow extra keys, so each object is type-checked as a TypeScript literal `satisfies I<Kind>` against the
// types @kubernetes-models/prometheus-operator generates from the CRDs; tsc rejects excess properties at every
// nesting level. Other kinds are skipped (strict-k8s.mjs). Usage: node strict-crd.mjs FILE...
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
const root = join(dirname(fileURLToPath(import.meta.url)), "..");  // the tools dir holding node_modules
const dir = mkdtempSync(join(root, ".crdcheck-"));
const names = [];
for (const file of process.argv.slice(2))
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    const obj = doc.toJS();
    if (!obj || obj.apiVersion !== "monitoring.coreos.com/v1") continue;
    const ts = join(dir, `${names.length}.ts`);
    writeFileSync(ts, `// ${file}: ${obj.kind}/${obj.metadata?.name}\nimport type { I${obj.kind} } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/${obj.kind}";\n` +
      `export const o = ${JSON.stringify(obj, null, 1)} as const satisfies I${obj.kind};\n`);
    names.push(`${obj.kind}/${obj.metadata?.name}`);
  }
let rc = 0;
if (names.length) {
  try {
    execFileSync(join(root, "node_modules/.bin/tsc"), ["--noEmit", "--strict", "--skipLibCheck", "--module", "nodenext",
      "--moduleResolution", "nodenext", "--target", "es2022", ...names.map((_, i) => join(dir, `${i}.ts`))], { stdio: "inherit", cwd: root });
  } catch {
    rc = 1;
    names.forEach((n, i) => console.error(`  ${i}.ts = ${n}`));
  }
}
rmSync(dir, { recursive: true, force: true });
console.log(rc ? `CRD type check failed (${names.length} objects)` : `${names.length} passed, 0 failed`);
process.exit(rc);
