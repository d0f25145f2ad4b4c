/**
 * @module example
 * `npm run example`: a scripted agent (no model, nothing beyond loopback)
 * using `@tollgate/agent` against a local edge served from workerd, saying
 * what happens as it goes: an allow, a deny, an approval a scripted person
 * grants, a receipt reused, the edge stopped mid-run and the agent deciding
 * offline within its budget lease, the spool uploaded when the edge is
 * back, and `tollgate audit verify` clean afterwards. Everything it makes
 * (keys, state, spool) lives in a temporary directory removed at the end.
 */
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Decision, TollgateEvent } from "@tollgate/agent";
import { buildAgentPackage } from "./build-agent.ts";
import { buildGlobalPolicy } from "./build-policies.ts";
import { buildSandbox } from "./build-sandbox.ts";
import { adminCall, type AdminTarget } from "./lib/admin-client.ts";
import { bundleEdge, startEdge, type RunningEdge } from "./lib/edge-server.ts";
import { buildLayer } from "./lib/layer-build.ts";
import { generateKeyPair, signLayer } from "./lib/signing.ts";
import { toBase64Url } from "../src/bundles/signature.ts";
import { ROOT } from "./toolchain.mjs";

const PORT = Number(process.env.PORT ?? 8799);
const TENANT = "example-co";
const dim = (text: string) => `\x1b[2m${text}\x1b[0m`;
const say = (text: string) => console.log(text);
const show = (what: string, decision: Decision) =>
  say(`  ${what}: ${decision.decision.toUpperCase()} via ${decision.source}${decision.rules.length ? ` (${decision.rules.join(", ")})` : ""} ${dim(decision.id)}`);

const work = mkdtempSync(join(tmpdir(), "tollgate-example-"));
let edge: RunningEdge | undefined;

async function configure() {
  const keys = Object.fromEntries(
    await Promise.all(["snapshot", "audit", "identity", "receipt", "global"].map(async (name) => [name, await generateKeyPair(`example-${name}`)] as const)),
  );
  const scopes: Record<string, string[]> = { snapshot: ["snapshot"], audit: ["audit"], identity: ["identity"], receipt: ["receipt"], global: ["global"] };
  const trust = { keys: Object.entries(keys).map(([name, key]) => ({ id: key.id, public_key: key.publicKey, scopes: scopes[name] })) };
  const token = `tga_${randomBytes(18).toString("base64url")}`;
  const vars = {
    TRUST_STORE: JSON.stringify(trust),
    ADMIN_TOKENS: JSON.stringify({
      [createHash("sha256").update(token).digest("hex")]: { subject: "example-admin", roles: ["publisher", "operator", "approver", "auditor", "agent_admin"], scopes: ["*"] },
    }),
    SNAPSHOT_KEY_ID: keys.snapshot.id,
    SNAPSHOT_SIGNING_KEY: JSON.stringify(keys.snapshot.privateJwk),
    AUDIT_KEY_ID: keys.audit.id,
    AUDIT_SIGNING_KEY: JSON.stringify(keys.audit.privateJwk),
    IDENTITY_KEY_ID: keys.identity.id,
    IDENTITY_SIGNING_KEY: JSON.stringify(keys.identity.privateJwk),
    RECEIPT_KEY_ID: keys.receipt.id,
    RECEIPT_SIGNING_KEY: JSON.stringify(keys.receipt.privateJwk),
  };
  writeFileSync(join(work, "trust.json"), JSON.stringify(trust));
  return { vars, token, globalKey: keys.global };
}

/** Waits until the tenant's log holds `count` records (the audit Queue delivers in batches of up to a second). */
async function logged(admin: AdminTarget, count: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const { records } = await adminCall<{ records: unknown[] }>(admin, "GET", `/audit/records?tenant=${TENANT}&limit=1000`);
    if (records.length >= count) return;
    if (Date.now() > deadline) throw new Error(`the log holds ${records.length} records, ${count} were expected`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const start = (vars: Record<string, string>) => startEdge({ port: PORT, persistTo: join(work, "state"), vars });

async function main() {
  say("building the policy, the Worker and @tollgate/agent…");
  await buildGlobalPolicy();
  await buildSandbox();
  await buildAgentPackage();
  // Imported once built, as a user's agent imports the published package.
  const { ApprovalRequired, Denied, FileSpoolStore, Tollgate } = await import("@tollgate/agent");
  const { localPolicy } = await import("@tollgate/agent/offline");
  bundleEdge();
  const { vars, token, globalKey } = await configure();
  edge = await start(vars);
  const admin: AdminTarget = { url: edge.url.origin, token };
  const layer = await buildLayer("global");
  const signed = await signLayer(layer.draft, globalKey, { version: 1, nowMs: Date.now(), expiresInDays: 1 });
  await adminCall(admin, "PUT", "/bundles/global", { manifest: signed, files: Object.fromEntries(Object.entries(layer.files).map(([name, bytes]) => [name, toBase64Url(bytes)])) });
  await adminCall(admin, "POST", "/refresh");
  const enrol = async (agent: string, role: string) => {
    await adminCall(admin, "PUT", `/registry/${TENANT}/agents/${agent}`, { owner: "ops@example-co.test", role, max_risk_tier: "high", certified_until: new Date(Date.now() + 86_400_000).toISOString() });
    return (await adminCall<{ key: string }>(admin, "POST", `/registry/${TENANT}/agents/${agent}/keys`, {})).key;
  };
  say(`edge on ${edge.url.origin}, global policy v1 published and signed; agents of ${TENANT} registered\n`);

  const events = (event: TollgateEvent) => {
    if (event.type === "lease_granted") say(dim(`  · budget lease ${event.lease_id}: ${event.granted.api_calls} calls, until ${event.expires_at}`));
    if (event.type === "spool_uploaded") say(`  · spool uploaded: ${event.accepted} offline decisions accepted, ${event.refused} refused`);
    if (event.type === "lease_released") say(dim(`  · lease ${event.lease_id} released; what it did not spend is the session's again`));
  };
  const helpdesk = new Tollgate({
    url: edge.url.origin,
    credential: await enrol("helpdesk", "support"),
    session: "ticket-4711",
    timeoutMs: 800,
    retries: 1,
    offline: { policy: localPolicy(), spool: new FileSpoolStore(join(work, "spool.jsonl")) },
    onEvent: events,
  });

  say("1. decisions at the edge");
  const readTicket = helpdesk.guard(async (input: { id: string }) => `ticket ${input.id}: printer on fire`, { tool: "tickets.read" });
  say(`  tickets.read allowed, the tool ran: "${await readTicket({ id: "T-4711" })}"`);
  try {
    await helpdesk.enforce({ type: "tool_call", tool: "payments.refund", args: { amount: 40, currency: "EUR" } });
  } catch (error) {
    if (!(error instanceof Denied)) throw error;
    show("payments.refund by a support agent", error.decision);
  }

  say("\n2. an approval");
  const finance = new Tollgate({ url: edge.url.origin, credential: await enrol("refunds", "finance"), session: "refund-88", offline: { spool: "memory" } });
  try {
    await finance.enforce({ type: "tool_call", tool: "payments.refund", args: { amount: 900, currency: "EUR" } });
  } catch (error) {
    if (!(error instanceof ApprovalRequired)) throw error;
    show("a 900 EUR refund", error.decision);
    say(`  waiting for approval ${error.approvalId}; a person approves it in a second…`);
    setTimeout(() => void adminCall(admin, "POST", `/approvals/${TENANT}/${error.approvalId}`, { decision: "approve", reason: "customer verified by phone" }), 1_000);
    show("re-submitted with the approval", await error.wait({ timeoutMs: 30_000 }));
  }

  say("\n3. a receipt reused");
  const search = { type: "tool_call" as const, tool: "kb.search", args: { q: "printer fire" } };
  show("kb.search", await helpdesk.check(search, { tier: "low" }));
  show("kb.search again", await helpdesk.check(search, { tier: "low" }));
  await helpdesk.idle();

  // A real location's Queue is durable; the local one is not, so its records are let through before it stops.
  await logged(admin, 5);

  say("\n4. the edge goes away");
  await edge.dispose();
  for (let i = 1; i <= 3; i++) show(`tickets.read T-${i} (offline)`, await helpdesk.check({ type: "tool_call", tool: "tickets.read", args: { id: `T-${i}` } }));
  show("shell.exec (critical, never offline)", await helpdesk.check({ type: "tool_call", tool: "shell.exec", args: { command: "rm -rf /" } }));

  say("\n5. the edge is back");
  edge = await start(vars);
  show("tickets.read", await helpdesk.check({ type: "tool_call", tool: "tickets.read", args: { id: "T-5" } }));
  await helpdesk.idle();
  await helpdesk.close();
  await finance.close();

  say("\n6. the audit log");
  await logged(admin, 10);
  const verify = spawnSync(process.execPath, [join(ROOT, "bin", "tollgate.mjs"), "audit", "verify", "--tenant", TENANT, "--trust", join(work, "trust.json"), "--expect-records", "10"], {
    encoding: "utf8",
    env: { ...process.env, TOLLGATE_URL: edge.url.origin, TOLLGATE_TOKEN: token },
  });
  say(`  $ tollgate audit verify --tenant ${TENANT}\n  ${verify.stdout.trim()}`);
  const records = await adminCall<{ records: Array<{ offline?: unknown }> }>(admin, "GET", `/audit/records?tenant=${TENANT}&limit=1000`);
  say(`  ${records.records.length} records, ${records.records.filter((r) => r.offline).length} of them made offline`);
  if (verify.status !== 0) throw new Error("the audit log did not verify");
}

try {
  await main();
} catch (error) {
  console.error(`example failed: ${(error as Error).stack ?? error}`);
  process.exitCode = 1;
} finally {
  await edge?.dispose();
  rmSync(work, { recursive: true, force: true });
}
