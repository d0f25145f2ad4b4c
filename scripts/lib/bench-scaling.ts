/**
 * @module bench-scaling
 * How the cost of a decision grows, for `npm run bench`:
 *
 * - policy size (10, 100, 1,000 rules), data size (1 KB, 1 MB, 8 MB) and
 *   input size (1 KB, 32 KB): a generated policy compiled by the pinned OPA
 *   and evaluated in the edge's sandbox, round-robin over a few inputs; also
 *   what loading it costs (the sandbox's first decision, data parsed into
 *   wasm memory);
 * - tenants with a layer of their own (1, 100, 1,000) on one edge: every
 *   tenant's layer published and signed through the admin API, one agent per
 *   tenant, decisions round-robin over the tenants over HTTP, and the edge's
 *   workerd's resident memory before and after, and each isolate's V8 heap
 *   (the edge's own and every sandbox's) through workerd's inspector.
 *
 * Each row does the work its name says: generated rules are all evaluated
 * (none can be skipped by indexing on a constant), data lookups touch the
 * data, and every tenant's decision goes through its own composition.
 */
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash, randomBytes } from "node:crypto";
import { adminCall } from "./admin-client.ts";
import { startEdge } from "./edge-server.ts";
import { buildLayer, withData } from "./layer-build.ts";
import { runLoad } from "./load.ts";
import { opaBuildWasm } from "./opa.ts";
import { workerdChildren } from "./placement.ts";
import { evaluateInSandbox, measureInSandbox } from "./sandbox-eval.ts";
import { generateKeyPair, signLayer } from "./signing.ts";
import type { Summary } from "./stats.ts";
import { toBase64Url } from "../../src/bundles/signature.ts";

export interface ScalingRow {
  dimension: string;
  size: string;
  /** Median evaluation in the sandbox (µs), or the median decision over HTTP (µs) for tenants. */
  median_us: number;
  decisions_per_s: number;
  /** What loading took, or the edge's resident memory, in words. */
  note: string;
}

/** A policy in package tollgate with `rules` deny rules, each testing the input against its own pattern. */
function generatedRules(rules: number): string {
  const lines = ["package tollgate", "", "import rego.v1", ""];
  for (let i = 0; i < rules; i++) {
    lines.push(`deny contains {"rule": "r${i}", "message": "blocked"} if {`, `\tinput.action.args.target == "blocked-${i}"`, `\tstartswith(input.action.tool, "t${i % 7}")`, "}", "");
  }
  lines.push('decision := {"decision": "deny", "reasons": sort(deny)} if count(deny) > 0', "", 'else := {"decision": "allow", "reasons": []}');
  return lines.join("\n");
}

/** A policy that looks the input's customer up in `entries` customers of data. */
function dataLookup(): string {
  return [
    "package tollgate",
    "",
    "import rego.v1",
    "",
    "customer := data.tollgate.customers[input.action.args.customer]",
    "",
    'decision := {"decision": "allow", "reasons": [], "tier": customer.tier} if customer.active',
    "",
    'else := {"decision": "deny", "reasons": [{"rule": "unknown_customer", "message": "not a known, active customer"}]}',
  ].join("\n");
}

async function compile(rego: string, data: unknown) {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-scaling-"));
  try {
    writeFileSync(join(dir, "policy.rego"), rego);
    writeFileSync(join(dir, "data.json"), JSON.stringify(data));
    return await opaBuildWasm(dir, "tollgate/decision");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const action = (args: Record<string, unknown>, tool = "t3.read") => ({ action: { type: "tool_call", tool, args } });

async function evaluationRow(dimension: string, size: string, rego: string, data: unknown, inputs: unknown[], iterations: number): Promise<ScalingRow> {
  const policy = await compile(rego, data);
  // A policy that cannot load (or answer) in the sandbox is reported as such, not timed.
  const [probe] = await evaluateInSandbox(policy, [inputs[0]]);
  if (probe.error || probe.result === undefined) throw new Error(probe.error ? `${probe.error.code}: ${probe.error.message}` : "no decision");
  const started = performance.now();
  const measured = await measureInSandbox(policy, inputs, iterations, 4);
  const perInput = measured.per_input.map((p) => p.eval_us).sort((a, b) => a - b);
  const median = perInput[Math.floor(perInput.length / 2)];
  const memory = Math.max(...measured.per_input.map((p) => p.memory_bytes));
  return {
    dimension,
    size,
    median_us: median,
    decisions_per_s: 1e6 / median,
    note: `wasm ${(policy.wasm.byteLength / 1024).toFixed(0)} KiB, wasm memory ${(memory / 2 ** 20).toFixed(1)} MiB, load and measure ${((performance.now() - started) / 1000).toFixed(1)} s`,
  };
}

function customers(bytes: number): Record<string, { active: boolean; tier: string }> {
  const out: Record<string, { active: boolean; tier: string }> = {};
  const entry = JSON.stringify({ active: true, tier: "gold" }).length + 20;
  for (let i = 0; i < Math.max(1, Math.floor(bytes / entry)); i++) out[`cust-${String(i).padStart(8, "0")}`] = { active: i % 3 !== 0, tier: i % 2 ? "gold" : "silver" };
  return out;
}

function residentMiB(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024;
}

/** workerd's inspector, opened on the tenants row's edge to read each isolate's heap. */
const INSPECTOR_PORT = 18799;

interface IsolateHeaps {
  /** The edge Worker's own isolate: V8 heap in use, MiB. */
  edgeMiB: number;
  /** Each policy sandbox's isolate (a Dynamic Worker of the Worker Loader): V8 heap in use, MiB. */
  sandboxesMiB: number[];
}

/**
 * Asks every isolate of the workerd for its V8 heap (`Runtime.getHeapUsage`).
 * Wasm memory and compiled code are outside that heap: they are in the
 * process's resident memory, reported beside it.
 */
async function isolateHeaps(): Promise<IsolateHeaps> {
  const targets = (await (await fetch(`http://127.0.0.1:${INSPECTOR_PORT}/json/list`)).json()) as Array<{ title: string; webSocketDebuggerUrl: string }>;
  const usedMiB = async (url: string) => {
    const socket = new WebSocket(url);
    try {
      await new Promise((resolve, reject) => {
        socket.addEventListener("open", resolve);
        socket.addEventListener("error", reject);
      });
      const answer = new Promise<{ result: { usedSize: number } }>((resolve) =>
        socket.addEventListener("message", (event) => {
          const message = JSON.parse(String(event.data));
          if (message.id === 1) resolve(message);
        }),
      );
      socket.send(JSON.stringify({ id: 1, method: "Runtime.getHeapUsage" }));
      return (await answer).result.usedSize / 2 ** 20;
    } finally {
      socket.close();
    }
  };
  const edge = targets.find((target) => target.title.endsWith("core:user:tollgate-edge"));
  if (!edge) throw new Error(`no edge isolate among the inspector's targets: ${targets.map((target) => target.title).join(", ")}`);
  const sandboxesMiB: number[] = [];
  for (const target of targets.filter((candidate) => candidate.title.includes("LOADER:policy:"))) sandboxesMiB.push(await usedMiB(target.webSocketDebuggerUrl));
  return { edgeMiB: await usedMiB(edge.webSocketDebuggerUrl), sandboxesMiB };
}

async function tenantsRow(count: number, requests: number): Promise<ScalingRow> {
  const keys = { global: await generateKeyPair("scale-global"), tenants: await generateKeyPair("scale-tenants"), snapshot: await generateKeyPair("scale-snapshot") };
  const token = `bench-${randomBytes(12).toString("hex")}`;
  const before = new Set(workerdChildren());
  const edge = await startEdge({
    port: 18798,
    inspectorPort: INSPECTOR_PORT,
    vars: {
      SESSION_STATE: "off",
      AUDIT: "off",
      TRUST_STORE: JSON.stringify({
        keys: [
          { id: keys.global.id, public_key: keys.global.publicKey, scopes: ["global"] },
          { id: keys.tenants.id, public_key: keys.tenants.publicKey, scopes: ["tenant:*"] },
          { id: keys.snapshot.id, public_key: keys.snapshot.publicKey, scopes: ["snapshot"] },
        ],
      }),
      ADMIN_TOKENS: JSON.stringify({ [createHash("sha256").update(token).digest("hex")]: { subject: "bench", roles: ["publisher", "operator", "agent_admin"], scopes: ["*"] } }),
      SNAPSHOT_KEY_ID: keys.snapshot.id,
      SNAPSHOT_SIGNING_KEY: JSON.stringify(keys.snapshot.privateJwk),
    },
  });
  const pid = workerdChildren().find((candidate) => !before.has(candidate));
  try {
    const admin = { url: edge.url.origin, token };
    const put = async (scope: string, layer: Awaited<ReturnType<typeof buildLayer>>, key: typeof keys.global, version: number) => {
      const signed = await signLayer(layer.draft, key, { version, nowMs: Date.now(), expiresInDays: 1 });
      await adminCall(admin, "PUT", `/bundles/${scope}`, { manifest: signed, files: Object.fromEntries(Object.entries(layer.files).map(([name, bytes]) => [name, toBase64Url(bytes)])) });
    };
    await put("global", await buildLayer("global"), keys.global, 1);
    const acme = await buildLayer("tenant:acme");
    const acmeData = JSON.parse(new TextDecoder().decode(acme.files["data.json"])) as { tollgate: { params: { refunds: { approval_threshold: number } } } };
    const calls = [];
    for (let i = 0; i < count; i++) {
      const tenant = `scale-${i}`;
      // Each tenant's own data (a threshold of its own), so each has its own digest and composition.
      acmeData.tollgate.params.refunds.approval_threshold = 400 - (i % 300);
      const layer = await withData({ ...acme, draft: { ...acme.draft, scope: `tenant:${tenant}` } }, acmeData);
      await put(`tenant:${tenant}`, layer, keys.tenants, 2 + i);
      await adminCall(admin, "PUT", `/registry/${tenant}/agents/helper`, { owner: "bench@localhost", role: "support", max_risk_tier: "high", certified_until: "2099-01-01" });
      const { key } = await adminCall<{ key: string }>(admin, "POST", `/registry/${tenant}/agents/helper/keys`, {});
      calls.push({ headers: { authorization: `Bearer ${key}` }, body: JSON.stringify({ session: { id: "s" }, action: { type: "tool_call", tool: "tickets.read", args: { id: "T-1" } } }) });
    }
    const idleMiB = residentMiB(pid);
    await adminCall(admin, "POST", "/refresh");
    const activatedMiB = residentMiB(pid);
    // Every tenant decides at least once before the measured requests, so each composition exists.
    const summary: Summary = await runLoad({ url: new URL("/v1/decide", edge.url), calls, concurrency: 1, requests: Math.max(requests, count), warmup: count });
    const servingMiB = residentMiB(pid);
    const heaps = await isolateHeaps();
    const sandboxes = [...heaps.sandboxesMiB].sort((a, b) => a - b);
    const sandboxHeap = sandboxes.length > 0 ? `${sandboxes.length} sandboxes, V8 heap ${sandboxes[sandboxes.length >> 1].toFixed(1)} MiB each at the median (${sandboxes[0].toFixed(1)}–${sandboxes[sandboxes.length - 1].toFixed(1)})` : "no sandbox";
    return {
      dimension: "tenants with their own layer",
      size: String(count),
      median_us: summary.median_ms * 1000,
      decisions_per_s: summary.rps,
      note: `edge workerd resident memory: ${idleMiB.toFixed(0)} MiB before activating, ${activatedMiB.toFixed(0)} MiB with every layer active, ${servingMiB.toFixed(0)} MiB after every tenant decided (its sandboxes warm); isolates: the edge's V8 heap ${heaps.edgeMiB.toFixed(1)} MiB, ${sandboxHeap}; p99 ${(summary.p99_ms * 1000).toFixed(0)} µs`,
    };
  } finally {
    await edge.dispose();
  }
}

export async function benchScaling(options: { quick: boolean }): Promise<ScalingRow[]> {
  const iterations = options.quick ? 500 : 2000;
  const rows: ScalingRow[] = [];
  for (const rules of [10, 100, 1000]) {
    const inputs = [action({ target: "nothing" }), action({ target: `blocked-${rules - 1}` }, `t${(rules - 1) % 7}.write`), action({ target: "blocked-3" })];
    rows.push(await evaluationRow("policy size", `${rules} rules`, generatedRules(rules), {}, inputs, iterations));
  }
  for (const [label, bytes] of [["1 KB", 1_000], ["1 MB", 1_000_000], ["8 MB", 8_000_000]] as const) {
    const data = { tollgate: { customers: customers(bytes) } };
    const keys = Object.keys(data.tollgate.customers);
    const inputs = [action({ customer: keys[0] }), action({ customer: keys[keys.length - 1] }), action({ customer: keys[Math.floor(keys.length / 2)] }), action({ customer: "nobody" })];
    try {
      rows.push(await evaluationRow("data size", label, dataLookup(), data, inputs, iterations));
    } catch (error) {
      rows.push({ dimension: "data size", size: label, median_us: Number.NaN, decisions_per_s: Number.NaN, note: `does not load: ${(error as Error).message.slice(0, 200)}` });
    }
  }
  const globalPolicy = await opaBuildWasm(join(import.meta.dirname, "..", "..", "policies", "global"), "tollgate/decision");
  for (const [label, bytes] of [["1 KB", 1_000], ["32 KB", 32_000]] as const) {
    // A ticket update whose body and attachments fill the input to its size; every field reaches the policy.
    const filler = Array.from({ length: Math.ceil(bytes / 1_000) }, (_, i) => `line ${i}: ${"x".repeat(980)}`);
    const input = { tenant: "acme", risk_tier: "low", agent: { id: "agent-1", role: "support", scopes: [] }, session: { id: "s" }, action: { type: "tool_call", tool: "tickets.write", args: { id: "T-1", body: filler.join("\n").slice(0, bytes) } } };
    const started = performance.now();
    const measured = await measureInSandbox(globalPolicy, [input], iterations, 4);
    const us = measured.per_input[0].eval_us;
    rows.push({ dimension: "input size (the global policy)", size: label, median_us: us, decisions_per_s: 1e6 / us, note: `${JSON.stringify(input).length} bytes of JSON into wasm; measured in ${((performance.now() - started) / 1000).toFixed(1)} s` });
  }
  for (const count of options.quick ? [1, 10, 100] : [1, 100, 1000]) rows.push(await tenantsRow(count, options.quick ? 500 : 2000));
  return rows;
}
