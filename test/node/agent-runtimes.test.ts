/**
 * @tollgate/agent in the runtimes it promises beyond Node 22 and Workers
 * (tested in agent-sdk.test.ts and sdk-in-workers.test.ts): the same
 * scenario, test/fixtures/sdk-runtimes/scenario.mjs, run by the built
 * package in Node 20, Deno and Bun (pinned, other-runtimes.ts) and in
 * Chromium, against a real edge on loopback. In the browser the page is
 * served from another origin (so every call crosses CORS), the package is
 * resolved as a browser bundler would (the `browser` build of
 * `@tollgate/agent/offline`), and offline decisions are spooled in
 * IndexedDB.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGENT_PACKAGE } from "../../scripts/build-agent.ts";
import { listenOnLoopback, type LoopbackServer } from "../fixtures/loopback-server.ts";
import { launchChromium } from "./debian-chromium.ts";
import { edgeForFile } from "./edge-harness.ts";
import { ensureRuntime, type RuntimeName } from "./other-runtimes.ts";

const run = promisify(execFile);
const { edge, work } = edgeForFile(18851);
const SCENARIO_DIR = join(import.meta.dirname, "..", "fixtures", "sdk-runtimes");
const DIST = join(AGENT_PACKAGE, "dist");
let tenants = 0;

/**
 * A tenant of its own per run, whose layer lets the support role read offline within a lease
 * (offline-tenant), or also holds a rule that needs a hash (hashing-tenant).
 */
async function agentOfNewTenant(runtime: string, fixture = "offline-tenant"): Promise<{ tenant: string; key: string }> {
  const tenant = `rt-${runtime}-${Date.now().toString(36)}-${++tenants}`;
  await edge.publish(`tenant:${tenant}`, { sourceDir: join(import.meta.dirname, "..", "fixtures", fixture) });
  return { tenant, key: await edge.agentKey(tenant, "helper", "support") };
}

/** What every runtime must see online: a verified receipt, a refusal as Denied, a guarded tool run once. */
const online = {
  allowed: { decision: "allow", source: "edge", receipt: true },
  refused: { denied: true, rules: expect.arrayContaining(["tool_not_allowed_for_role"]), decisionId: true },
  guard: { ran: 1, ticket: "ticket T-2" },
  back: { source: "edge" },
};

/** Local evaluation: the read decided offline by the policy, spooled, uploaded once when the edge is back. */
const decidedLocally = {
  ...online,
  localEvaluation: "available",
  offline: { decision: "allow", source: "offline", rules: [], id: "off-", spooled: 1 },
  spoolLeft: 0,
  uploaded: [{ accepted: 1, refused: 0 }],
  // The lease the offline read drew on, and one more once the edge is back.
  leases: 2,
};

async function runCommandLine(runtime: RuntimeName, fixture?: string): Promise<{ tenant: string; result: Record<string, unknown> }> {
  const executable = ensureRuntime(runtime);
  const { tenant, key } = await agentOfNewTenant(runtime, fixture);
  const script = join(SCENARIO_DIR, "run.mjs");
  const args = runtime === "deno" ? ["run", "--quiet", "--allow-net", "--allow-read", "--allow-write", "--allow-env", script] : [script];
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: work,
    DENO_DIR: join(work, "deno"),
    NO_COLOR: "1",
    TG_URL: edge.url,
    TG_KEY: key,
    TG_SDK: `${pathToFileURL(DIST).href}/`,
    TG_SPOOL: join(work, `${tenant}.jsonl`),
  };
  const { stdout } = await run(executable, args, { env, timeout: 120_000 });
  return { tenant, result: JSON.parse(stdout.trim().split("\n").pop()!) };
}

describe("the agent SDK in other runtimes", () => {
  it("Node 20: decides online; local evaluation says it is unsupported, and the tier's fail mode decides offline", async () => {
    const { version } = await run(ensureRuntime("node20"), ["--version"]).then(({ stdout }) => ({ version: stdout.trim() }));
    expect(version).toMatch(/^v20\./);
    const { result } = await runCommandLine("node20");
    // A read is low tier, whose fail mode in the global policy is open; the decision is spooled and uploaded all the same.
    expect(result).toMatchObject({
      ...online,
      localEvaluation: "unsupported_runtime",
      offline: { decision: "allow", source: "fail_mode", rules: ["no_local_policy", "edge_unreachable"], id: "off-", spooled: 1 },
      spoolLeft: 0,
      uploaded: [{ accepted: 1, refused: 0 }],
      leases: 0,
    });
  }, 180_000);

  for (const runtime of ["deno", "bun"] as const) {
    it(`${runtime}: decides online, decides locally while offline (file spool), uploads once`, async () => {
      const { tenant, result } = await runCommandLine(runtime);
      expect(result).toMatchObject(decidedLocally);
      const records = (await edge.auditRecords(tenant)).filter((record) => record.offline);
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({ decision: "allow", offline: { source: "local_policy" } });
      expect(readFileSync(join(work, `${tenant}.jsonl`), "utf8")).toBe("");
    }, 180_000);
  }

  it("deno: evaluates locally a layer whose rules need node:crypto (which the browser build refuses, below)", async () => {
    const { result } = await runCommandLine("deno", "hashing-tenant");
    expect(result).toMatchObject(decidedLocally);
  }, 180_000);

  describe("Chromium", () => {
    let browser: Browser;
    let site: LoopbackServer;

    beforeAll(async () => {
      // The page's own origin: the scenario and the package's files, as `exports` resolves them for a browser.
      const exportsMap = JSON.parse(readFileSync(join(AGENT_PACKAGE, "package.json"), "utf8")).exports as Record<string, { browser?: string; default: string }>;
      const files: Record<string, string> = {
        "/": join(SCENARIO_DIR, "page.html"),
        "/scenario.mjs": join(SCENARIO_DIR, "scenario.mjs"),
        "/agent/index.js": join(AGENT_PACKAGE, exportsMap["."].browser ?? exportsMap["."].default),
        "/agent/offline.js": join(AGENT_PACKAGE, exportsMap["./offline"].browser ?? exportsMap["./offline"].default),
      };
      const server = createServer((req, res) => {
        const file = files[new URL(req.url ?? "/", "http://page").pathname];
        if (!file) return void res.writeHead(404).end();
        res.writeHead(200, { "content-type": file.endsWith(".html") ? "text/html" : "text/javascript" }).end(readFileSync(file));
      });
      site = await listenOnLoopback(server);
      browser = await launchChromium();
    }, 120_000);

    afterAll(async () => {
      await browser?.close();
      await site?.close();
    });

    /** The scenario in a fresh page (its own IndexedDB, since each browser context is a new profile). */
    async function runInPage(key: string): Promise<Record<string, unknown>> {
      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        const errors: string[] = [];
        page.on("pageerror", (error) => errors.push(error.message));
        await page.goto(`${site.origin}/`);
        await page.waitForSelector("body[data-ready=yes]", { state: "attached" });
        const result = await page.evaluate(([url, agentKey]) => (window as unknown as { runAgentScenario(url: string, key: string): Promise<Record<string, unknown>> }).runAgentScenario(url, agentKey), [edge.url, key]);
        expect(errors).toEqual([]);
        return result;
      } finally {
        await context.close();
      }
    }

    it("the browser build, across origins, decides locally with offline decisions spooled in IndexedDB", async () => {
      const { tenant, key } = await agentOfNewTenant("chromium");
      expect(await runInPage(key)).toMatchObject(decidedLocally);
      const records = (await edge.auditRecords(tenant)).filter((record) => record.offline);
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({ decision: "allow", offline: { source: "local_policy" } });
    }, 180_000);

    it("refuses to evaluate locally a layer that needs node:crypto, and the tier's fail mode decides instead", async () => {
      const { key } = await agentOfNewTenant("chromium-hashing", "hashing-tenant");
      expect(await runInPage(key)).toMatchObject({
        ...online,
        localEvaluation: "available",
        offline: { decision: "allow", source: "fail_mode", rules: ["no_local_policy", "edge_unreachable"], spooled: 1 },
        spoolLeft: 0,
        uploaded: [{ accepted: 1, refused: 0 }],
      });
    }, 180_000);
  });
});
