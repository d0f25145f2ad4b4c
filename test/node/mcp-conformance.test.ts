/**
 * The MCP gateway against the official conformance suite
 * (@modelcontextprotocol/conformance, pinned in package.json): every server
 * scenario it has, the pending ones included, run by its CLI as
 * `npx @modelcontextprotocol/conformance server --url …` runs them, against
 * the gateway fronting a conformant upstream built with
 * @modelcontextprotocol/server, for a tenant whose policy allows every tool
 * that upstream offers. Governance stays on: each call is decided by the
 * edge's pipeline, debited in its session object, recorded in the audit log
 * and answered with its decision; only the verdicts are all "allow".
 *
 * The CLI connects with no credential, so it talks to a loopback proxy that
 * adds the agent's key (test/fixtures/bearer-proxy.ts), and the edge accepts
 * that proxy's origin (MCP_ALLOWED_ORIGINS), as a deployment behind such a
 * proxy would.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleEdge, startEdge, type RunningEdge } from "../../scripts/lib/edge-server.ts";
import { ROOT } from "../../scripts/toolchain.mjs";
import { startBearerProxy, type RunningProxy } from "../fixtures/bearer-proxy.ts";
import {
  CONFORMANCE_PROMPTS,
  CONFORMANCE_RESOURCE_PREFIX,
  CONFORMANCE_TOOLS,
  CONFORMANCE_UPSTREAM_KEY,
  startConformanceUpstream,
  type RunningConformanceUpstream,
} from "../fixtures/conformance-upstream.ts";
import { auditRecordsOnceWritten } from "../fixtures/audit-records.ts";
import { TEST_TOKENS, testStoreBindings } from "../fixtures/test-config.ts";

const TENANT = "conformance";
const AGENT = "conformance-client";
const SERVER = "everything";
const CLI = join(ROOT, "node_modules", "@modelcontextprotocol", "conformance", "dist", "index.js");

/** Scenarios the gateway does not pass, and why; the README's table says the same. */
const EXPECTED_FAILURES: Record<string, string> = {};

/**
 * Checks the suite reports as warnings (SHOULDs), by scenario and check id, and why. The gateway
 * passes the upstream's priming event on (its id sealed), but resumes an upstream's closed stream
 * itself, so it never closes its own stream to be resumed and sends no retry field.
 */
const EXPECTED_WARNINGS: Record<string, string> = {
  "server-sse-polling/server-sse-retry-field": "the gateway never closes a stream to be resumed, so it sends no retry field",
};

interface Check {
  id: string;
  status: "SUCCESS" | "FAILURE" | "WARNING" | "INFO" | "SKIPPED";
  errorMessage?: string;
  details?: Record<string, unknown>;
}

let edge: RunningEdge;
let upstream: RunningConformanceUpstream;
let proxy: RunningProxy;
let results: Map<string, Check[]>;
let cliOutput = "";

async function admin(path: string, init: RequestInit = {}, token: string = TEST_TOKENS.registrar): Promise<Response> {
  return fetch(new URL(`/v1/admin${path}`, edge.url), { ...init, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" } });
}

/** Runs the CLI without blocking this process, which serves the upstream and the proxy it talks to. */
function runSuite(url: string, outputDir: string): Promise<string> {
  return new Promise((resolve) =>
    execFile(process.execPath, [CLI, "server", "--url", url, "--suite", "all", "--output-dir", outputDir], { encoding: "utf8", timeout: 240_000, maxBuffer: 64 * 1024 * 1024 }, (_error, stdout, stderr) =>
      // The exit status says only whether something failed; the checks themselves are asserted below.
      resolve(`${stdout}\n${stderr}`),
    ),
  );
}

/** Each scenario's checks, from the `checks.json` the CLI writes per scenario (`server-<scenario>-<timestamp>/`). */
function readResults(outputDir: string): Map<string, Check[]> {
  const found = new Map<string, Check[]>();
  for (const dir of readdirSync(outputDir)) {
    const scenario = /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/.exec(dir)?.[1];
    if (scenario) found.set(scenario, JSON.parse(readFileSync(join(outputDir, dir, "checks.json"), "utf8")) as Check[]);
  }
  return found;
}

/** The scenarios the CLI lists for servers, from `conformance list`. */
function listedScenarios(): Promise<string[]> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [CLI, "list", "--server"], { encoding: "utf8" }, (error, stdout) => {
      if (error) return reject(error);
      resolve([...stdout.matchAll(/^\s+- (\S+)/gm)].map((match) => match[1]));
    }),
  );
}

const failuresOf = (checks: Check[]) => checks.filter((check) => check.status === "FAILURE");

beforeAll(async () => {
  bundleEdge();
  upstream = await startConformanceUpstream();
  const port = 18861;
  proxy = await startBearerProxy(new URL(`http://127.0.0.1:${port}`));
  edge = await startEdge({ port, vars: { ...testStoreBindings(), MCP_ALLOWED_ORIGINS: proxy.origin } });

  // An agent certified for the lowest tier only: everything it does here is a low-tier read.
  const agent = await admin(`/registry/${TENANT}/agents/${AGENT}`, {
    method: "PUT",
    body: JSON.stringify({ owner: "ops@example.test", role: "support", max_risk_tier: "low", certified_until: "2099-01-01" }),
  });
  expect(agent.status, await agent.clone().text()).toBeLessThan(300);
  proxy.token = ((await (await admin(`/registry/${TENANT}/agents/${AGENT}/keys`, { method: "POST", body: "{}" })).json()) as { key: string }).key;

  // Every tool, resource and prompt the upstream offers, and every answer the client gives its sampling and elicitation
  // requests, is tickets.read to the policy: registered globally, internal, a read, low tier, role support may call it, and
  // its decisions are not reusable, so each is debited in the session object like any other.
  const tools = Object.fromEntries(CONFORMANCE_TOOLS.map((tool) => [tool, { tool: "tickets.read" }]));
  const prompts = Object.fromEntries(CONFORMANCE_PROMPTS.map((prompt) => [prompt, { tool: "tickets.read" }]));
  const resources = { [CONFORMANCE_RESOURCE_PREFIX]: { tool: "tickets.read" } };
  const registered = await admin(`/mcp/${TENANT}/servers/${SERVER}`, {
    method: "PUT",
    body: JSON.stringify({ url: upstream.url, tools, resources, prompts, answers: { tool: "tickets.read" }, credentials: { headers: { "x-upstream-key": CONFORMANCE_UPSTREAM_KEY } } }),
  });
  expect(registered.status, await registered.clone().text()).toBe(201);

  const outputDir = mkdtempSync(join(tmpdir(), "tollgate-conformance-"));
  try {
    cliOutput = await runSuite(`${proxy.origin}/mcp/${SERVER}`, outputDir);
    results = readResults(outputDir);
  } finally {
    rmSync(outputDir, { recursive: true, force: true });
  }
}, 300_000);

afterAll(async () => {
  await edge?.dispose();
  await proxy?.close();
  await upstream?.close();
});

describe("the official MCP conformance suite's server scenarios, through the gateway", () => {
  it("ran every server scenario the suite has", async () => {
    const summary = cliOutput.slice(cliOutput.indexOf("=== SUMMARY ==="));
    console.log(summary);
    const listed = await listedScenarios();
    expect(listed.length).toBeGreaterThan(25);
    expect([...results.keys()].sort(), cliOutput.slice(-4000)).toEqual([...listed].sort());
  });

  it("passes every scenario but the ones listed, and those fail as listed", () => {
    const failing = Object.fromEntries(
      [...results].filter(([, checks]) => failuresOf(checks).length > 0).map(([scenario, checks]) => [scenario, failuresOf(checks).map((check) => `${check.id}: ${check.errorMessage ?? ""}`)]),
    );
    expect(Object.keys(failing).sort(), JSON.stringify(failing, null, 2)).toEqual(Object.keys(EXPECTED_FAILURES).sort());
  });

  it("warns only where listed", () => {
    const warnings = [...results].flatMap(([scenario, checks]) => checks.filter((check) => check.status === "WARNING").map((check) => `${scenario}/${check.id}`));
    expect(warnings.sort()).toEqual(Object.keys(EXPECTED_WARNINGS).sort());
  });

  it("lists every tool the upstream offers, and answers each call with the decision that allowed it", () => {
    const listing = results.get("tools-list")?.find((check) => check.id === "tools-list");
    expect((listing?.details?.tools as string[]).sort()).toEqual([...CONFORMANCE_TOOLS].sort());
    const call = results.get("tools-call-simple-text")?.[0];
    const decision = (call?.details?.result as { _meta?: Record<string, { decision: string; decision_id: string; receipt?: string }> })._meta?.["tollgate/decision"];
    expect(decision).toMatchObject({ decision: "allow", decision_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(decision?.receipt).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  });

  it("decided, recorded and debited every call, resource read, subscription, prompt and answer that reached the upstream, which always got its own credential", async () => {
    expect(upstream.refused).toBe(0);
    expect(upstream.calls.filter((call) => !call.includes(":")).length).toBeGreaterThanOrEqual(CONFORMANCE_TOOLS.length - 1);
    // The resources and prompts scenarios read through the gateway too, each decided like a call.
    expect(upstream.calls.some((call) => call.startsWith("resource:test://"))).toBe(true);
    expect(upstream.calls.some((call) => call.startsWith("prompt:"))).toBe(true);
    // So did a subscription, judged as a read of what it subscribes to, and the client's answers to its sampling and
    // elicitation requests.
    expect(upstream.calls).toContain("subscribe:test://watched-resource");
    expect(upstream.calls.filter((call) => call.startsWith("answer:")).sort()).toEqual(["answer:elicitation/create", "answer:elicitation/create", "answer:elicitation/create", "answer:sampling/createMessage"]);
    // The audit log is written through a queue: wait until it holds a record for each of them.
    const records = await auditRecordsOnceWritten<{ action_type: string; decision: string; tool: string; session: string }>(
      edge.url,
      TENANT,
      (record) => record.action_type === "tool_call",
      upstream.calls.length,
    );
    expect(records.length).toBe(upstream.calls.length);
    expect(new Set(records.map((record) => `${record.decision} ${record.tool}`))).toEqual(new Set(["allow tickets.read"]));
    // Each scenario is an MCP session of its own, so a Tollgate session of its own: each was debited its calls.
    const perSession = new Map<string, number>();
    for (const record of records) perSession.set(record.session, (perSession.get(record.session) ?? 0) + 1);
    for (const [id, count] of perSession) {
      const view = (await (await admin(`/sessions/${TENANT}/${AGENT}/${encodeURIComponent(id)}`, {}, TEST_TOKENS.operator)).json()) as { usage: Record<string, number> };
      expect(view.usage.api_calls, id).toBe(count);
    }
  });

  it("refuses the DNS-rebinding request at the gateway too, not only at the proxy", async () => {
    const rebinding = await fetch(new URL(`/mcp/${SERVER}`, edge.url), {
      method: "POST",
      headers: { authorization: `Bearer ${proxy.token}`, origin: "http://evil.example.com", "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "x", version: "1" } } }),
    });
    expect(rebinding.status).toBe(403);
  });
});
