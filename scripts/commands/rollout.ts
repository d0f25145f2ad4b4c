/**
 * @module rollout
 * Rolling policy out by observation first. Every change is a rollout
 * document for one scope, signed with a key that holds the `rollout` scope
 * and covers that scope, and published through the admin API:
 *
 *   mode --scope <scope> --set enforce|observe --key <private.jwk>   [--url --token]
 *   shadow attach <bundle-dir> --key <private.jwk>     upload a signed candidate and evaluate it beside its scope
 *   shadow detach --scope <scope> --key <private.jwk>
 *   shadow report --scope <scope>                      what the candidate would change
 */
import type { LayerManifest, Signed } from "../../src/bundles/manifest.ts";
import { signDocument, toBase64Url } from "../../src/bundles/signature.ts";
import type { RolloutDocument } from "../../src/rollout/document.ts";
import { AdminApiError, adminCall, adminTarget, type AdminTarget } from "../lib/admin-client.ts";
import { readBundle } from "../lib/bundle-dir.ts";
import { ADMIN_FLAGS, parseFlags, UsageError } from "../lib/args.ts";
import { readPrivateKey } from "../lib/signing.ts";

/** The document in force for a scope, or none (the scope enforces, with no shadow). */
async function inForce(target: AdminTarget, scope: string): Promise<RolloutDocument | undefined> {
  try {
    return (await adminCall<Signed<RolloutDocument>>(target, "GET", `/rollout/${scope}`)).document;
  } catch (error) {
    if (error instanceof AdminApiError && error.status === 404) return undefined;
    throw error;
  }
}

/** Signs the scope's next rollout document (the one in force with `change` applied) and publishes it. */
async function publishChange(target: AdminTarget, keyPath: string, scope: string, change: Partial<Pick<RolloutDocument, "mode" | "shadow">>) {
  const key = readPrivateKey(keyPath);
  const current = await inForce(target, scope);
  const now = Date.now();
  const document: RolloutDocument = {
    scope,
    // Milliseconds since the epoch, and always above the version in force.
    version: Math.max(now, (current?.version ?? 0) + 1),
    mode: change.mode ?? current?.mode ?? "enforce",
    shadow: change.shadow !== undefined ? change.shadow : (current?.shadow ?? null),
    created: new Date(now).toISOString(),
    key_id: key.id,
  };
  const signed = { document, signature: await signDocument(document, key.privateJwk) };
  return adminCall<{ scope: string; version: number; mode: string; shadow: RolloutDocument["shadow"]; snapshot_version: number }>(target, "PUT", `/rollout/${scope}`, { rollout: signed });
}

export async function mode(args: string[]): Promise<number> {
  const { values } = parseFlags(args, [...ADMIN_FLAGS, "scope", "set", "key"]);
  if (!values.scope || (values.set !== "enforce" && values.set !== "observe") || !values.key) {
    throw new UsageError("mode needs --scope, --set enforce|observe and --key <private.jwk> (a key with the rollout scope)");
  }
  const result = await publishChange(adminTarget(values), values.key, values.scope, { mode: values.set });
  console.log(`${result.scope} now runs in ${result.mode} mode (rollout v${result.version}, snapshot v${result.snapshot_version})`);
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
  const { values, positionals } = parseFlags(rest, [...ADMIN_FLAGS, "scope", "format", "key"]);
  const target = () => adminTarget(values);
  if (sub === "attach") {
    const dir = positionals[0];
    if (!dir || !values.key) throw new UsageError("shadow attach needs <bundle-dir> and --key <private.jwk> (a key with the rollout scope)");
    const bundle = readBundle(dir);
    const manifest = bundle.manifest as Signed<LayerManifest>;
    if (!manifest.signature) throw new Error(`${dir}: not signed (run tollgate sign)`);
    const scope = manifest.document.scope;
    const files = Object.fromEntries(Object.entries(bundle.files).map(([name, bytes]) => [name, toBase64Url(bytes)]));
    const uploaded = await adminCall<{ candidate: { version: number; digest: string } }>(target(), "PUT", `/shadow/${scope}`, { manifest, files });
    const result = await publishChange(target(), values.key, scope, { shadow: uploaded.candidate });
    console.log(`shadowing ${result.scope} with v${uploaded.candidate.version} (rollout v${result.version})`);
    return 0;
  }
  if (!values.scope) throw new UsageError(`shadow ${sub ?? ""} needs --scope`);
  if (sub === "detach") {
    if (!values.key) throw new UsageError("shadow detach needs --key <private.jwk>");
    const result = await publishChange(target(), values.key, values.scope, { shadow: null });
    console.log(`no shadow for ${result.scope} (rollout v${result.version})`);
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
