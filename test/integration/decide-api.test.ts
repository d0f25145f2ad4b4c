/**
 * The decision API's contract beyond the policy's answer: what the edge adds
 * to a decision, and how bad requests are refused (never with a 500).
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { agentKey } from "../identity/credentials";

const AGENT = { tenant: "acme", agent: "agent-1", role: "support", scopes: ["tickets:read"] };
const authorized = async () => ({ authorization: `Bearer ${await agentKey(AGENT)}` });

const validInput = {
  risk_tier: "medium",
  tenant: "acme",
  agent: { id: "agent-1", role: "support", scopes: ["tickets:read"] },
  session: { id: "s-1" },
  action: { type: "tool_call", tool: "tickets.read", args: { id: "T-1" } },
};

async function post(body: BodyInit, contentType = "application/json"): Promise<Response> {
  return exports.default.fetch("http://edge/v1/decide", {
    method: "POST",
    headers: { "content-type": contentType, ...(await authorized()) },
    body,
  });
}

describe("a decision response", () => {
  it("carries a unique decision id, the active bundle digest and the evaluation path", async () => {
    const policy = (await (await exports.default.fetch("http://edge/v1/policy", { headers: await authorized() })).json()) as { digest: string; key: string };
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const started = Date.now();
      const response = await post(JSON.stringify(validInput));
      const body = (await response.json()) as {
        decision_id: string;
        decision: string;
        policy: { key: string; layers: Array<{ digest: string }> };
        evaluation: { path: string; eval_us: number };
      };
      expect(response.headers.get("x-tollgate-decision-id")).toBe(body.decision_id);
      expect(body.decision).toBe("allow");
      expect(body.policy.key).toBe(policy.key);
      expect(body.policy.layers[0].digest).toBe(policy.digest);
      expect(body.evaluation.path).toBe("sandbox");
      // Whole microseconds of the evaluation alone, which cannot outlast the request around it.
      expect(Number.isInteger(body.evaluation.eval_us)).toBe(true);
      expect(body.evaluation.eval_us).toBeLessThanOrEqual((Date.now() - started) * 1000);
      ids.add(body.decision_id);
    }
    expect(ids.size).toBe(5);
  });
});

describe("bad requests get a clear 4xx", () => {
  it("rejects malformed JSON with 400 invalid_json", async () => {
    const response = await post("{not json");
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: "invalid_json" } });
  });

  it("names the offending field of a schema violation", async () => {
    const response = await post(JSON.stringify({ ...validInput, risk_tier: "extreme" }));
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; path: string; message: string } };
    expect(body.error.code).toBe("invalid_input");
    expect(body.error.path).toBe("risk_tier");
    expect(body.error.message).toContain("risk_tier");
  });

  it("requires a tool on a tool_call", async () => {
    const { tool: _tool, ...action } = validInput.action;
    const response = await post(JSON.stringify({ ...validInput, action }));
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: "invalid_input", path: "action.tool" } });
  });

  it("refuses a plan of more than 100 steps before any policy runs", async () => {
    const step = { tool: "tickets.read", args: { id: "T-1" } };
    const response = await post(JSON.stringify({ ...validInput, action: { type: "plan", steps: Array.from({ length: 101 }, () => step) } }));
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: "invalid_input", path: "action.steps" } });
  });

  it("a plan of 100 steps that each break a rule is judged by the policy and denied, never left to a fail mode", async () => {
    // Every step denied on its own: the costliest plan the schema lets through (its reasons grow with its steps).
    const steps = Array.from({ length: 100 }, (_, i) => (i % 2 ? { tool: "web.fetch", args: { url: "https://x.example" } } : { tool: "files.write", args: { path: `../${i}` } }));
    const response = await post(JSON.stringify({ ...validInput, action: { type: "plan", data_classes: ["pii"], steps } }));
    expect(response.status).toBe(200);
    const body = (await response.json()) as { decision: string; evaluation: { path: string }; fail_mode_applied?: unknown; reasons: Array<{ rule: string }> };
    expect(body.evaluation.path).toBe("sandbox");
    expect(body.fail_mode_applied).toBeUndefined();
    expect(body.decision).toBe("deny");
    expect(body.reasons.map((reason) => reason.rule)).toContain("plan_too_long");
  });

  it("rejects a JSON array body", async () => {
    const response = await post("[]");
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: "invalid_input" } });
  });

  it("rejects a body over 64 KiB with 413", async () => {
    const big = { ...validInput, action: { ...validInput.action, args: { blob: "x".repeat(70 * 1024) } } };
    const response = await post(JSON.stringify(big));
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: { code: "payload_too_large" } });
  });

  it("cuts off a streamed body without Content-Length once it passes 64 KiB", async () => {
    const chunk = new TextEncoder().encode("x".repeat(16 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 8) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const response = await post(body);
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: { code: "payload_too_large" } });
  });

  it("rejects a non-JSON content type with 415", async () => {
    const response = await post(JSON.stringify(validInput), "text/plain");
    expect(response.status).toBe(415);
    expect(await response.json()).toMatchObject({ error: { code: "unsupported_media_type" } });
  });

  it("answers an unknown route with 404 in the same error shape", async () => {
    const response = await exports.default.fetch("http://edge/v1/nope");
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: "not_found" } });
  });
});

describe("service endpoints", () => {
  it("reports health", async () => {
    const response = await exports.default.fetch("http://edge/healthz");
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: "ok" });
  });

  it("describes the active policy for the agent's tenant: digest, version, build time", async () => {
    const response = await exports.default.fetch("http://edge/v1/policy", { headers: await authorized() });
    const body = (await response.json()) as { digest: string; version: number; built_at: string; source: string; tenant: string };
    expect(body.tenant).toBe("acme");
    expect(body.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(body.version).toBe(0);
    expect(Number.isNaN(Date.parse(body.built_at))).toBe(false);
    expect(body.source).toBe("baseline");
    expect((await exports.default.fetch("http://edge/v1/policy")).status).toBe(401);
    expect((await exports.default.fetch("http://edge/v1/policy?tenant=initech", { headers: await authorized() })).status).toBe(403);
  });
});
