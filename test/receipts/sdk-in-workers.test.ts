/**
 * The agent SDK's core runs in a Worker as it does in Node: only fetch and
 * WebCrypto. A Worker that calls tools (through the edge it is bound to)
 * gets decisions, guarded tools and verified, reused receipts.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { Denied, Tollgate } from "../../packages/agent/src/index";
import { agentKey } from "../identity/credentials";
import { uniqueId } from "../session/helpers";

const viaEdge: typeof fetch = (input, init) => exports.default.fetch(input, init);

describe("@tollgate/agent inside workerd", () => {
  it("decides, guards a tool and reuses a verified receipt", async () => {
    const tenant = uniqueId("sdk-worker");
    const events: string[] = [];
    const tg = new Tollgate({ url: "http://edge", credential: await agentKey({ tenant, agent: "worker-agent" }), session: "s-1", fetch: viaEdge, offline: { spool: "memory" }, onEvent: (e) => events.push(e.type) });
    const search = { type: "tool_call" as const, tool: "kb.search", args: { q: "x" } };
    const first = await tg.check(search, { tier: "low" });
    expect(first).toMatchObject({ decision: "allow", source: "edge" });
    const again = await tg.check(search, { tier: "low" });
    expect(again).toMatchObject({ source: "cache", id: first.id });
    const refund = tg.guard(async (_input: { amount: number }) => "refunded", { tool: "payments.refund" });
    await expect(refund({ amount: 5 })).rejects.toBeInstanceOf(Denied);
    await tg.idle();
    expect(events).toContain("cache_hit");
    expect(events).not.toContain("receipt_refused");
  });
});
