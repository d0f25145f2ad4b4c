/**
 * The agent SDK's offline decisions stay within the bounds the signed policy
 * sets, whatever the edge or the host's clock does: an edge that answers 500
 * is a failing edge, not contact, so the offline window runs out; a clock
 * set back decides nothing offline (it would reopen a window that has
 * passed, or step back over the held policy's expiry). The fail mode applied
 * offline: agent-sdk-fail-mode.test.ts.
 */
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { MemorySpoolStore, Tollgate } from "@tollgate/agent";
import { localPolicy } from "@tollgate/agent/offline";
import { edgeForFile } from "./edge-harness.ts";

const { edge } = edgeForFile(18877);
let run = 0;
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${++run}`;
const read = { type: "tool_call", tool: "tickets.read", args: { id: "T-1" } } as const;
const shortWindow = join(import.meta.dirname, "..", "fixtures", "short-window-tenant");

/** fetch to the real edge, until told to answer 500 or to fail like a dropped network. */
function switchableFetch() {
  const state: { mode: "up" | "500" | "down" } = { mode: "up" };
  const fetcher: typeof fetch = async (input, init) => {
    if (state.mode === "500") return Response.json({ error: { code: "internal", message: "worker threw" } }, { status: 500 });
    if (state.mode === "down") throw new TypeError("fetch failed: connect ECONNREFUSED");
    return fetch(input, init);
  };
  return { fetcher, state };
}

afterEach(() => {
  vi.restoreAllMocks();
});

/** A client of a tenant of its own whose offline window is 5 s, that has reached the edge once and holds its policy. */
async function connectedClient(label: string) {
  const tenant = unique(label);
  await edge.publish(`tenant:${tenant}`, { sourceDir: shortWindow }); // offline.max_window_s: 5
  const key = await edge.agentKey(tenant, "helper", "support");
  const wire = switchableFetch();
  const tg = new Tollgate({ url: edge.url, credential: key, session: "s-1", fetch: wire.fetcher, timeoutMs: 500, retries: 0, offline: { policy: localPolicy(), spool: new MemorySpoolStore() } });
  expect((await tg.check(read)).source).toBe("edge");
  await tg.idle();
  return { tg, wire };
}

describe("offline decisions in the SDK", () => {
  it("an edge that answers 500 does not keep the offline window open", async () => {
    const { tg, wire } = await connectedClient("sdk-500");
    // The edge breaks: every request is a 500 (a Worker exception, Cloudflare's 1101 page).
    wire.state.mode = "500";
    expect((await tg.check({ ...read, args: { id: "W-1" } })).source).toBe("offline");
    await new Promise((r) => setTimeout(r, 6_000));
    // More than max_window_s since the edge last gave a decision: local evaluation must stop.
    const late = await tg.check({ ...read, args: { id: "W-2" } });
    expect(late.source).toBe("fail_mode");
    expect(late.rules).toContain("offline_window_passed");
  }, 180_000);

  it("a clock set back does not reopen an offline window that has passed", async () => {
    const { tg, wire } = await connectedClient("sdk-clock");
    wire.state.mode = "down";
    const realNow = Date.now.bind(Date);
    const clock = vi.spyOn(Date, "now");
    // An hour later the window (5 s) has long passed: the SDK says so.
    clock.mockImplementation(() => realNow() + 3_600_000);
    const passed = await tg.check({ ...read, args: { id: "C-1" } });
    expect(passed.source).toBe("fail_mode");
    expect(passed.rules).toContain("offline_window_passed");
    // The agent's host sets its clock back that hour: the clock reads just after the last contact again,
    // though an hour has passed. The window must stay passed (the SDK has seen a later time already).
    clock.mockImplementation(() => realNow());
    const rolledBack = await tg.check({ ...read, args: { id: "C-2" } });
    expect(rolledBack.source).toBe("fail_mode");
  }, 180_000);
});
