/**
 * Signed decision receipts, as anyone holding one would check them: with
 * only the edge's published keys (/.well-known/jwks.json) and the SDK's
 * verifyReceipt. A receipt binds the decision, who asked, for which session
 * and action, under which layers; the policy's ttl_s says how long it may be
 * reused; no byte of it can change and still verify.
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { actionHash } from "../../packages/agent/src/canonical-json";
import { decodeReceipt, ReceiptError, verifyReceipt, type ReceiptClaims, type ReceiptKey } from "../../packages/agent/src/receipt";
import { chainFor } from "../../src/audit/writer";
import { agentKey } from "../identity/credentials";
import { decide, uniqueId } from "../session/helpers";

async function jwks(): Promise<{ keys: ReceiptKey[] }> {
  const response = await exports.default.fetch("http://edge/.well-known/jwks.json");
  expect(response.status).toBe(200);
  expect(response.headers.get("cache-control")).toContain("max-age");
  return response.json();
}

const search = (tenant: string, session: string) => ({
  risk_tier: "low",
  tenant,
  agent: { id: "agent-1", role: "support" },
  session: { id: session },
  action: { type: "tool_call", tool: "kb.search", args: { q: "refund policy" } },
});

const read = (tenant: string, session: string) => ({ ...search(tenant, session), action: { type: "tool_call", tool: "tickets.read", args: { id: "T-1" } } });

async function expectRefused(token: string, keys: Awaited<ReturnType<typeof jwks>>, code: string, expectClaims?: Parameters<typeof verifyReceipt>[1]["expect"]) {
  const error = await verifyReceipt(token, { keys, expect: expectClaims }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ReceiptError);
  expect((error as ReceiptError).code).toBe(code);
}

describe("decision receipts", () => {
  it("publishes only the trusted, unrevoked receipt keys as a JWKS", async () => {
    const { keys } = await jwks();
    expect(keys).toEqual([{ kty: "OKP", crv: "Ed25519", x: expect.any(String), kid: "receipt-test", use: "sig", alg: "EdDSA" }]);
    // The identity, snapshot and layer keys are in the same trust store and are not receipt keys.
    expect(env.TRUST_STORE).toContain("identity-test");
  });

  it("binds the decision id, tenant, agent, session, action hash, decision, tier and every layer digest", async () => {
    const tenant = uniqueId("rcpt");
    const body = search(tenant, "s-1");
    const answer = await decide(body);
    expect(answer.decision).toBe("allow");
    const claims = await verifyReceipt(answer.receipt, { keys: await jwks(), expect: { tenant, agent: "agent-1", session: "s-1", action: body.action, decision: "allow" } });
    expect(claims).toMatchObject({
      iss: "tollgate",
      jti: answer.decision_id,
      tenant,
      sub: "agent-1",
      session: "s-1",
      action: await actionHash(body.action),
      decision: "allow",
      tier: answer.risk.tier,
      mode: "enforce",
      policy: { key: answer.policy.key, layers: answer.policy.layers.map(({ scope, digest, version }: ReceiptClaims["policy"]["layers"][number]) => ({ scope, digest, version })) },
    });
    expect(decodeReceipt(answer.receipt).header).toEqual({ alg: "EdDSA", typ: "tg-receipt+jwt", kid: "receipt-test" });
  });

  it("lets a free read be reused for the policy's ttl_s, and makes every other receipt one-time proof", async () => {
    const tenant = uniqueId("ttl");
    const reusable = await decide(search(tenant, "s-1"));
    const oneTime = await decide(read(tenant, "s-1"));
    const keys = await jwks();
    const a = await verifyReceipt(reusable.receipt, { keys });
    const b = await verifyReceipt(oneTime.receipt, { keys });
    expect(a.ttl_s).toBe(300);
    expect(a.exp - a.iat).toBe(300);
    expect(b.ttl_s).toBe(0);
    expect(b.exp - b.iat).toBe(60); // the global policy's proof window
    // The free read cost the session no API call; the plain read cost one.
    expect(reusable.session.usage.api_calls).toBe(0);
    expect(oneTime.session.usage.api_calls).toBe(1);
  });

  it("signs denials and approvals too, never reusable", async () => {
    const tenant = uniqueId("deny");
    const denied = await decide({ ...search(tenant, "s-1"), action: { type: "tool_call", tool: "no.such.tool" } });
    const approval = await decide({
      risk_tier: "high",
      tenant,
      agent: { id: "agent-9", role: "finance" },
      session: { id: "s-2" },
      action: { type: "tool_call", tool: "payments.refund", args: { amount: 900, currency: "EUR" } },
    });
    const keys = await jwks();
    expect(denied.decision).toBe("deny");
    expect(approval.decision).toBe("require_approval");
    expect(await verifyReceipt(denied.receipt, { keys })).toMatchObject({ decision: "deny", ttl_s: 0, jti: denied.decision_id });
    expect(await verifyReceipt(approval.receipt, { keys })).toMatchObject({ decision: "require_approval", ttl_s: 0, sub: "agent-9" });
  });

  it("is refused once any single character of it changes", async () => {
    const answer = await decide(search(uniqueId("tamper"), "s-1"));
    const keys = await jwks();
    const token: string = answer.receipt;
    await verifyReceipt(token, { keys });
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let refused = 0;
    for (let i = 0; i < token.length; i++) {
      if (token[i] === ".") continue;
      // Two different substitutes per position: one flips low bits, one flips high bits.
      for (const shift of [1, 32]) {
        const replacement = alphabet[(alphabet.indexOf(token[i]) + shift) % alphabet.length];
        const tampered = token.slice(0, i) + replacement + token.slice(i + 1);
        await expect(verifyReceipt(tampered, { keys })).rejects.toBeInstanceOf(ReceiptError);
        refused++;
      }
    }
    expect(refused).toBe(2 * (token.length - 2));
    // Dropping, adding or moving characters is refused too.
    await expectRefused(token.slice(0, -1), keys, "malformed");
    await expectRefused(`${token}A`, keys, "malformed");
    await expectRefused(token.replace(".", ".."), keys, "malformed");
  });

  it("is refused for another tenant, agent, session or action than the one it names", async () => {
    const tenant = uniqueId("bound");
    const body = search(tenant, "s-1");
    const answer = await decide(body);
    const keys = await jwks();
    await expectRefused(answer.receipt, keys, "mismatch", { tenant: "globex" });
    await expectRefused(answer.receipt, keys, "mismatch", { agent: "agent-2" });
    await expectRefused(answer.receipt, keys, "mismatch", { session: "s-2" });
    await expectRefused(answer.receipt, keys, "mismatch", { action: { ...body.action, args: { q: "refund policy " } } });
    await expectRefused(answer.receipt, keys, "mismatch", { decision: "deny" });
  });

  it("is refused when expired, from a key not published, or verified with no keys", async () => {
    const answer = await decide(read(uniqueId("exp"), "s-1"));
    const keys = await jwks();
    const claims = await verifyReceipt(answer.receipt, { keys });
    await expect(verifyReceipt(answer.receipt, { keys, now: claims.exp * 1000 })).rejects.toMatchObject({ code: "expired" });
    await expect(verifyReceipt(answer.receipt, { keys, now: (claims.iat - 120) * 1000 })).rejects.toMatchObject({ code: "not_yet_valid" });
    await expectRefused(answer.receipt, { keys: [] }, "unknown_key");
    // The same key id with someone else's public key: the signature is what counts.
    const impostor = { keys: [{ ...keys.keys[0], x: JSON.parse(env.TRUST_STORE).keys.find((k: { id: string }) => k.id === "identity-test").public_key }] };
    await expectRefused(answer.receipt, impostor, "bad_signature");
    await expectRefused(answer.receipt, { keys: [{ ...keys.keys[0], crv: "P-256" }] }, "unknown_key");
  });

  it("goes into the decision's audit record", async () => {
    const tenant = uniqueId("audit");
    const answer = await decide({ ...read(tenant, "s-1"), risk_tier: "critical" });
    expect(answer.audit).toBe("acknowledged");
    const [record] = (await chainFor(env, tenant).query({ decision_id: answer.decision_id })).records as Array<Record<string, unknown>>;
    expect(record.receipt).toBe(answer.receipt);
    expect((await verifyReceipt(record.receipt as string, { keys: await jwks() })).jti).toBe(answer.decision_id);
  });
});

describe("what the edge publishes for offline checks", () => {
  it("publishes the trust store's public half, revocations included, and no private key", async () => {
    const response = await exports.default.fetch("http://edge/.well-known/tollgate-trust.json");
    expect(response.status).toBe(200);
    const { keys } = (await response.json()) as { keys: Array<{ id: string; public_key: string; scopes: string[]; revoked?: boolean }> };
    expect(keys.find((key) => key.id === "revoked-test")?.revoked).toBe(true);
    expect(keys.find((key) => key.id === "receipt-test")?.scopes).toEqual(["receipt"]);
    expect(JSON.stringify(keys)).not.toContain('"d"');
  });

  it("gives signed layers only to an authenticated agent, and none while the edge decides with its compiled-in baseline", async () => {
    expect((await exports.default.fetch("http://edge/v1/policy/bundle")).status).toBe(401);
    const answer = await decide(read(uniqueId("bundle"), "s-1"));
    const response = await exports.default.fetch("http://edge/v1/policy/bundle", { headers: { authorization: `Bearer ${await agentKey({ tenant: answer.identity.tenant, agent: "agent-1" })}` } });
    expect(answer.policy.source).toBe("baseline");
    expect(response.status).toBe(409);
    expect(await response.json()).toMatchObject({ error: { code: "no_signed_policy" } });
  });
});
