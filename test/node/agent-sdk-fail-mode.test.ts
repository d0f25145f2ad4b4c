/**
 * The fail mode the agent SDK applies when it cannot decide offline is never
 * looser than the signed policy it holds now, whatever an older answer said.
 * An edge of its own: the test republishes the global layer.
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MemorySpoolStore, Tollgate } from "@tollgate/agent";
import { localPolicy } from "@tollgate/agent/offline";
import { edgeForFile } from "./edge-harness.ts";

const { edge } = edgeForFile(18878);
const read = { type: "tool_call", tool: "tickets.read", args: { id: "T-1" } } as const;

/** The global layer's sources with its data made stricter: low risk fails closed and is not decided offline. */
function stricterGlobal(): string {
  const source = join(import.meta.dirname, "..", "..", "policies", "global");
  const dir = mkdtempSync(join(tmpdir(), "stricter-global-"));
  for (const file of readdirSync(source).filter((f) => f.endsWith(".rego") && !f.endsWith("_test.rego"))) copyFileSync(join(source, file), join(dir, file));
  const data = JSON.parse(readFileSync(join(source, "data.json"), "utf8"));
  data.tollgate.params.risk_tiers.low.fail_mode = "closed";
  data.tollgate.params.offline.tiers = ["medium"];
  writeFileSync(join(dir, "data.json"), JSON.stringify(data));
  return dir;
}

/** fetch to the real edge, until told to fail like a dropped network. */
function switchableFetch() {
  const state: { mode: "up" | "down" } = { mode: "up" };
  const fetcher: typeof fetch = async (input, init) => {
    if (state.mode === "down") throw new TypeError("fetch failed: connect ECONNREFUSED");
    return fetch(input, init);
  };
  return { fetcher, state };
}

describe("the fail mode the SDK applies offline", () => {
  it("is the signed policy's held now where an older answer said open", async () => {
    const tenant = `sdk-failmode-${Date.now().toString(36)}`;
    const key = await edge.agentKey(tenant, "helper", "support");
    const wire = switchableFetch();
        const policy = localPolicy({ refreshIntervalMs: 0 });
    const tg = new Tollgate({ url: edge.url, credential: key, session: "s-1", fetch: wire.fetcher, timeoutMs: 500, retries: 0, offline: { policy, spool: new MemorySpoolStore() } });
    // Under the global layer alone, low risk fails open: the SDK learns it from the answer.
    const first = await tg.check(read);
    expect(first).toMatchObject({ source: "edge", tier: "low" });
    expect(first.response?.fail_mode).toBe("open");
    await tg.idle();

    // The global layer is republished: low risk now fails closed, and only medium is decided offline.
    await edge.publish("global", { sourceDir: stricterGlobal() });
    // Until the edge decides with it (its own refresh), a second client with no cache asks it.
    const other = new Tollgate({ url: edge.url, credential: key, session: "s-2", cache: false, offline: { spool: "memory" } });
    for (let i = 0; i < 50 && (await other.check(read)).response?.fail_mode !== "closed"; i++) await new Promise((r) => setTimeout(r, 200));
    expect((await other.check(read)).response).toMatchObject({ fail_mode: "closed", stale: false });
    // The agent decides a medium-risk action online, and refreshes its held policy afterwards.
    const medium = await tg.check({ ...read, args: { id: "T-2" } }, { tier: "medium" });
    expect(medium).toMatchObject({ source: "edge", tier: "medium" });
    await tg.idle();
    // The SDK now holds the new signed policy, which says low fails closed, as the edge does.
    expect(policy.held()!.failMode("low")).toBe("closed");

    // The edge goes away: a low-risk action may not be decided locally, so the tier's fail mode decides.
    wire.state.mode = "down";
    const offline = await tg.check({ ...read, args: { id: "T-3" } });
    expect(offline.source).toBe("fail_mode");
    expect(offline.rules).toContain("offline_not_permitted");
    // Closed, as the policy says now; not open, as an answer under the old policy said.
    expect(offline.decision).toBe("deny");
  }, 180_000);
});
