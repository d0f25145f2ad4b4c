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

describe("agent routes from a browser page", () => {
  it("reuses a receipt only for a tier no higher than the one it was decided at", async () => {
    const tenant = uniqueId("sdk-tiers");
    const tg = new Tollgate({ url: "http://edge", credential: await agentKey({ tenant, agent: "worker-agent" }), session: "s-1", fetch: viaEdge, offline: { spool: "memory" } });
    const search = { type: "tool_call" as const, tool: "kb.search", args: { q: "refund policy" } };
    expect(await tg.check(search, { tier: "low" })).toMatchObject({ decision: "allow", source: "edge" });
    expect(await tg.check(search, { tier: "low" })).toMatchObject({ source: "cache" });
    expect(await tg.check(search)).toMatchObject({ source: "cache" });
    // Declared critical, the same action is asked again: the edge never lets a critical answer be reused.
    expect(await tg.check(search, { tier: "critical" })).toMatchObject({ decision: "allow", source: "edge", tier: "critical" });
    await tg.close();
  });

  it("answer a preflight from any origin without credentials, and the admin API does not", async () => {
    const preflight = (path: string) =>
      exports.default.fetch(`http://edge${path}`, {
        method: "OPTIONS",
        headers: { origin: "https://agent.example", "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type, idempotency-key" },
      });
    const decide = await preflight("/v1/decide");
    expect(decide.status).toBe(204);
    expect(decide.headers.get("access-control-allow-origin")).toBe("*");
    expect(decide.headers.get("access-control-allow-headers")).toContain("idempotency-key");
    expect(decide.headers.get("access-control-allow-credentials")).toBeNull();
    const admin = await preflight("/v1/admin/approvals/acme");
    expect(admin.headers.get("access-control-allow-origin")).toBeNull();
    const answered = await exports.default.fetch("http://edge/.well-known/jwks.json", { headers: { origin: "https://agent.example" } });
    expect(answered.headers.get("access-control-allow-origin")).toBe("*");
  });
});
