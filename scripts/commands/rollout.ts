/**
 * @module rollout
 * Rolling policy out by observation first:
 *
 *   mode --scope <scope> --set enforce|observe          [--url --token]
 *   shadow attach <bundle-dir>                          attach a signed candidate to its scope
 *   shadow report --scope <scope>                       what the candidate would change
 *   shadow detach --scope <scope>
 */
import type { LayerManifest, Signed } from "../../src/bundles/manifest.ts";
import { toBase64Url } from "../../src/bundles/signature.ts";
import { adminCall, adminTarget } from "../lib/admin-client.ts";
import { readBundle } from "../lib/bundle-dir.ts";
import { ADMIN_FLAGS, parseFlags, UsageError } from "../lib/args.ts";

export async function mode(args: string[]): Promise<number> {
  const { values } = parseFlags(args, [...ADMIN_FLAGS, "scope", "set"]);
  if (!values.scope || (values.set !== "enforce" && values.set !== "observe")) throw new UsageError("mode needs --scope and --set enforce|observe");
  const result = await adminCall<{ scope: string; mode: string }>(adminTarget(values), "PUT", `/modes/${values.scope}`, { mode: values.set });
  console.log(`${result.scope} now runs in ${result.mode} mode`);
  return 0;
}

interface Report {
  scope: string;
  candidate: { version: number; digest: string } | null;
  differences: number;
  transitions: Record<string, number>;
  rules: Record<string, number>;
  examples: Array<{ decision_id: string; request_tenant: string; tool: string | null; active: { decision: string }; candidate_decision: { decision: string; rules: string[] } }>;
}

export async function shadow(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseFlags(rest, [...ADMIN_FLAGS, "scope", "format"]);
  const target = () => adminTarget(values);
  if (sub === "attach") {
    const dir = positionals[0];
    if (!dir) throw new UsageError("shadow attach needs <bundle-dir>");
    const bundle = readBundle(dir);
    const manifest = bundle.manifest as Signed<LayerManifest>;
    if (!manifest.signature) throw new Error(`${dir}: not signed (run tollgate sign)`);
    const files = Object.fromEntries(Object.entries(bundle.files).map(([name, bytes]) => [name, toBase64Url(bytes)]));
    const result = await adminCall<{ scope: string; shadow: { version: number } }>(target(), "PUT", `/shadow/${manifest.document.scope}`, { manifest, files });
    console.log(`shadowing ${result.scope} with v${result.shadow.version}`);
    return 0;
  }
  if (!values.scope) throw new UsageError(`shadow ${sub ?? ""} needs --scope`);
  if (sub === "detach") {
    await adminCall(target(), "DELETE", `/shadow/${values.scope}`);
    console.log(`no shadow for ${values.scope}`);
    return 0;
  }
  if (sub === "report") {
    const report = await adminCall<Report>(target(), "GET", `/shadow/${values.scope}/report`);
    if (values.format === "json") {
      console.log(JSON.stringify(report, null, 2));
      return 0;
    }
    console.log(`shadow of ${report.scope}${report.candidate ? ` v${report.candidate.version}` : " (detached)"}: ${report.differences} decision(s) would change`);
    for (const [transition, count] of Object.entries(report.transitions)) console.log(`  ${transition}: ${count}`);
    if (Object.keys(report.rules).length > 0) console.log(`  rules involved: ${Object.entries(report.rules).map(([rule, n]) => `${rule} (${n})`).join(", ")}`);
    for (const example of report.examples) {
      console.log(`  e.g. ${example.decision_id} tenant ${example.request_tenant} ${example.tool ?? ""}: ${example.active.decision} → ${example.candidate_decision.decision} [${example.candidate_decision.rules.join(", ")}]`);
    }
    return 0;
  }
  throw new UsageError("shadow takes attach, report or detach");
}
