/**
 * A tenant's own identity provider, as the edge trusts it: JWTs minted here
 * from real keys (Ed25519, P-256, RSA 2048) and sent to POST /v1/decide.
 * Proves that a token is accepted only when it verifies against the keys
 * the tenant registered (inline, or fetched from its jwks_uri by the
 * registry) with the algorithm of that key, within its times, for this
 * audience and from the issuer that names the tenant; that the claims map
 * to a registered agent, its registered role and at most its registered
 * scopes; that a key rotated out stops working; that a provider that is down
 * keeps the keys already fetched but never admits a token they do not
 * verify; and that malformed tokens are 401, never 500.
 *
 * Every test has its own tenant and issuer (issuers are unique across
 * tenants), so isolate caches and the per-tenant refetch limit never leak
 * from one test into another.
 */
import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { toBase64Url } from "../../src/bundles/signature";
import { identityCaches, registryObject } from "../../src/identity/registry-cache";
import { uniqueId } from "../session/helpers";
import { register, registryAdmin } from "./credentials";

type Alg = "EdDSA" | "ES256" | "RS256";

interface SigningKey {
  alg: Alg;
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JsonWebKey & { kid: string };
  /** The public key's own bytes, as an attacker who read the JWKS has them. */
  publicBytes: Uint8Array<ArrayBuffer>;
}

const GENERATE: Record<Alg, SubtleCryptoGenerateKeyAlgorithm> = {
  EdDSA: { name: "Ed25519" },
  ES256: { name: "ECDSA", namedCurve: "P-256" },
  RS256: { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
};
const SIGN: Record<Alg, SubtleCryptoSignAlgorithm> = {
  EdDSA: { name: "Ed25519" },
  ES256: { name: "ECDSA", hash: "SHA-256" },
  RS256: { name: "RSASSA-PKCS1-v1_5" },
};

const encode = (text: string) => new TextEncoder().encode(text) as Uint8Array<ArrayBuffer>;
const b64json = (value: unknown) => toBase64Url(encode(JSON.stringify(value)));

async function signingKey(alg: Alg, kid = uniqueId(`kid-${alg.toLowerCase()}`)): Promise<SigningKey> {
  const pair = (await crypto.subtle.generateKey(GENERATE[alg], true, ["sign", "verify"])) as CryptoKeyPair;
  const { kty, crv, x, y, n, e } = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as JsonWebKey;
  const publicJwk = JSON.parse(JSON.stringify({ kty, crv, x, y, n, e, kid, use: "sig", alg })) as JsonWebKey & { kid: string };
  const publicBytes = alg === "RS256" ? encode(JSON.stringify(publicJwk)) : new Uint8Array((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer);
  return { alg, kid, privateKey: pair.privateKey, publicJwk, publicBytes };
}

// RSA key generation is slow; one RSA key serves every test that needs one.
let rsaKey: SigningKey;
beforeAll(async () => {
  rsaKey = await signingKey("RS256");
});

/** A JWT signed with `key`; `header` may override anything in the header (alg, kid, typ). */
async function jwt(key: SigningKey, claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  const signingInput = `${b64json({ alg: key.alg, typ: "JWT", kid: key.kid, ...header })}.${b64json(claims)}`;
  const signature = await crypto.subtle.sign(SIGN[key.alg], key.privateKey, encode(signingInput));
  return `${signingInput}.${toBase64Url(new Uint8Array(signature))}`;
}

interface Tenant {
  tenant: string;
  issuer: string;
  audience: string;
}

function newTenant(label: string): Tenant {
  const tenant = `jwt-${label}-${crypto.randomUUID().slice(0, 8)}`;
  return { tenant, issuer: `https://idp.${tenant}.example.com/`, audience: `https://tollgate.example.com/${tenant}` };
}

function putProvider(t: Tenant, config: Record<string, unknown>): Promise<Response> {
  return registryAdmin(`/${t.tenant}/provider`, { method: "PUT", body: JSON.stringify({ issuer: t.issuer, audience: t.audience, ...config }) });
}

async function provider(t: Tenant, config: Record<string, unknown>): Promise<void> {
  const response = await putProvider(t, config);
  if (response.status !== 200) throw new Error(`provider of ${t.tenant}: ${response.status} ${await response.text()}`);
}

const jwks = (...keys: SigningKey[]) => ({ keys: keys.map((key) => key.publicJwk) });
const nowS = () => Math.floor(Date.now() / 1000);

function claimsFor(t: Tenant, agent: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { iss: t.issuer, aud: t.audience, sub: agent, iat: nowS(), exp: nowS() + 300, jti: uniqueId("jti"), ...extra };
}

function readTicket(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { session: { id: uniqueId("s") }, action: { type: "tool_call", tool: "tickets.read", args: { id: "T-1" } }, ...extra };
}

function decideWith(token: string, body: Record<string, unknown> = readTicket()): Promise<Response> {
  return exports.default.fetch("http://edge/v1/decide", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
}

interface Answer {
  decision: string;
  identity: { tenant: string; agent: string; role: string; scopes: string[]; credential: { kind: string; id: string; issuer?: string; expires_at?: string } };
}

async function accepted(response: Response): Promise<Answer> {
  const text = await response.text();
  expect(response.status, text).toBe(200);
  return JSON.parse(text) as Answer;
}

/** 401 with the RFC 6750 invalid_token challenge, and a description that says why. */
async function refused(response: Response, why: RegExp): Promise<void> {
  const text = await response.text();
  expect(response.status, text).toBe(401);
  const challenge = response.headers.get("www-authenticate") ?? "";
  expect(challenge).toMatch(/^Bearer realm="tollgate", error="invalid_token", error_description="[^"]*"$/);
  expect(challenge).toMatch(why);
  expect(JSON.parse(text)).toMatchObject({ error: { code: "invalid_credential" } });
}

async function forbidden(response: Response, code: string): Promise<void> {
  const text = await response.text();
  expect(response.status, text).toBe(403);
  expect(JSON.parse(text)).toMatchObject({ error: { code } });
}

/** A tenant whose provider holds `keys` inline, with one registered support agent. */
async function tenantWith(label: string, keys: SigningKey[], config: Record<string, unknown> = {}, scopes = ["tickets:read", "kb:read"]) {
  const t = newTenant(label);
  await provider(t, { jwks: jwks(...keys), ...config });
  const agent = uniqueId("agent");
  await register({ tenant: t.tenant, agent, role: "support", scopes });
  return { ...t, agent };
}

describe("a valid token from the tenant's provider", () => {
  it.each(["EdDSA", "ES256", "RS256"] as const)("signed with %s is accepted, as the agent its sub names, with the registered role", async (alg) => {
    const key = alg === "RS256" ? rsaKey : await signingKey(alg);
    const t = await tenantWith(alg.toLowerCase(), [key]);
    const claims = claimsFor(t, t.agent);
    const answer = await accepted(await decideWith(await jwt(key, claims)));
    expect(answer.decision).toBe("allow");
    expect(answer.identity).toMatchObject({
      tenant: t.tenant,
      agent: t.agent,
      role: "support",
      scopes: ["tickets:read", "kb:read"],
      credential: { kind: "jwt", id: claims.jti, issuer: t.issuer, expires_at: new Date((claims.exp as number) * 1000).toISOString() },
    });
  });

  it("names the agent by the claim the provider's mapping points at, not by sub", async () => {
    const key = await signingKey("EdDSA");
    const t = await tenantWith("mapped", [key], { claims: { agent: "/ext/agent_id" } });
    // sub is the human the provider logged in; the agent is in a nested claim.
    const token = await jwt(key, claimsFor(t, "user|42", { ext: { agent_id: t.agent } }));
    expect((await accepted(await decideWith(token))).identity).toMatchObject({ agent: t.agent, role: "support", credential: { kind: "jwt" } });
    // The same mapping with nothing at the pointer names no agent.
    await refused(await decideWith(await jwt(key, claimsFor(t, t.agent))), /does not name an agent/);
  });

  it("is accepted on every agent-facing route, not only /v1/decide", async () => {
    const key = await signingKey("ES256");
    const t = await tenantWith("routes", [key]);
    const token = await jwt(key, claimsFor(t, t.agent));
    const policy = await exports.default.fetch("http://edge/v1/policy", { headers: { authorization: `Bearer ${token}` } });
    expect(policy.status).toBe(200);
    // Authenticated, then the malformed approval id is judged (400); without the token it never gets that far.
    const approvalPath = `http://edge/v1/approvals/${uniqueId("apr")}`;
    const approval = await exports.default.fetch(approvalPath, { headers: { authorization: `Bearer ${token}` } });
    expect(approval.status).toBe(400);
    for (const path of ["http://edge/v1/policy", approvalPath]) {
      const anonymous = await exports.default.fetch(path);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get("www-authenticate")).toBe('Bearer realm="tollgate"');
    }
  });
});

describe("a token signed the wrong way is refused", () => {
  it("a header alg that differs from the key's type (ES256 over an Ed25519 key, EdDSA over a P-256 key)", async () => {
    const ed = await signingKey("EdDSA");
    const ec = await signingKey("ES256");
    const t = await tenantWith("wrong-alg", [ed, ec]);
    await refused(await decideWith(await jwt(ed, claimsFor(t, t.agent), { alg: "ES256" })), /signature does not verify/);
    await refused(await decideWith(await jwt(ec, claimsFor(t, t.agent), { alg: "EdDSA" })), /signature does not verify/);
    await refused(await decideWith(await jwt(rsaKey, claimsFor(t, t.agent), { alg: "RS256", kid: ec.kid })), /signature does not verify/);
    // Control: the same keys with their own algorithms are accepted.
    await accepted(await decideWith(await jwt(ed, claimsFor(t, t.agent))));
    await accepted(await decideWith(await jwt(ec, claimsFor(t, t.agent))));
  });

  it("alg none (unsigned), with or without a signature segment", async () => {
    const key = await signingKey("EdDSA");
    const t = await tenantWith("alg-none", [key]);
    const unsigned = `${b64json({ alg: "none", typ: "JWT", kid: key.kid })}.${b64json(claimsFor(t, t.agent))}`;
    await refused(await decideWith(`${unsigned}.`), /not a signed JWT/);
    await refused(await decideWith(`${unsigned}.${toBase64Url(encode("anything"))}`), /algorithm none is not accepted/);
    // A real signature under a header that says none is no better.
    await refused(await decideWith(await jwt(key, claimsFor(t, t.agent), { alg: "none" })), /algorithm none is not accepted/);
  });

  it("HS256 with an HMAC keyed by the public key's bytes (the key confusion attack)", async () => {
    const ed = await signingKey("EdDSA");
    const t = await tenantWith("hmac", [ed, rsaKey]);
    for (const [target, secret] of [
      [ed, ed.publicBytes],
      [ed, encode(JSON.stringify(ed.publicJwk))],
      [rsaKey, rsaKey.publicBytes],
    ] as const) {
      const hmac = await crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      const signingInput = `${b64json({ alg: "HS256", typ: "JWT", kid: target.kid })}.${b64json(claimsFor(t, t.agent))}`;
      const mac = new Uint8Array(await crypto.subtle.sign("HMAC", hmac, encode(signingInput)));
      await refused(await decideWith(`${signingInput}.${toBase64Url(mac)}`), /algorithm HS256 is not accepted/);
    }
  });

  it("an algorithm the provider did not list, even over a key of that type", async () => {
    const ec = await signingKey("ES256");
    const ed = await signingKey("EdDSA");
    const t = await tenantWith("alg-list", [ec, ed], { algorithms: ["EdDSA"] });
    // Registration keeps only keys that can verify a listed algorithm; the P-256 key is not one.
    await refused(await decideWith(await jwt(ec, claimsFor(t, t.agent))), /algorithm ES256 is not accepted/);
    await accepted(await decideWith(await jwt(ed, claimsFor(t, t.agent))));
  });
});

describe("a token's times are checked, with the provider's clock skew", () => {
  it("expired, not yet valid, issued in the future or without exp: refused; within the skew: accepted", async () => {
    const key = await signingKey("EdDSA");
    const t = await tenantWith("times", [key], { clock_skew_s: 60 });
    const now = nowS();
    await refused(await decideWith(await jwt(key, claimsFor(t, t.agent, { iat: now - 600, exp: now - 120 }))), /expired/);
    await refused(await decideWith(await jwt(key, claimsFor(t, t.agent, { nbf: now + 120 }))), /not valid yet/);
    await refused(await decideWith(await jwt(key, claimsFor(t, t.agent, { iat: now + 600, exp: now + 900 }))), /issued in the future/);
    const { exp: _exp, ...withoutExp } = claimsFor(t, t.agent);
    await refused(await decideWith(await jwt(key, withoutExp)), /no exp/);
    await refused(await decideWith(await jwt(key, claimsFor(t, t.agent, { exp: String(now + 300) }))), /no exp/);

    await accepted(await decideWith(await jwt(key, claimsFor(t, t.agent, { iat: now - 600, exp: now - 30 }))));
    await accepted(await decideWith(await jwt(key, claimsFor(t, t.agent, { nbf: now + 30 }))));
  });

  it("an exp past the year 9999, validly signed, is refused with 401, not a date the edge cannot write", async () => {
    const key = await signingKey("EdDSA");
    const t = await tenantWith("far-exp", [key]);
    for (const exp of [1e13, 253_402_300_800, Number.MAX_SAFE_INTEGER]) await refused(await decideWith(await jwt(key, claimsFor(t, t.agent, { exp }))), /past the year 9999/);
  });
});

describe("a token for someone else is refused", () => {
  it("another audience; one of several audiences that includes ours is accepted", async () => {
    const key = await signingKey("ES256");
    const t = await tenantWith("aud", [key]);
    await refused(await decideWith(await jwt(key, claimsFor(t, t.agent, { aud: "https://another-service.example.com" }))), /audience/);
    const { aud: _aud, ...withoutAud } = claimsFor(t, t.agent);
    await refused(await decideWith(await jwt(key, withoutAud)), /audience/);
    await accepted(await decideWith(await jwt(key, claimsFor(t, t.agent, { aud: ["https://another-service.example.com", t.audience] }))));
  });

  it("an issuer no tenant registered, or none at all", async () => {
    const key = await signingKey("EdDSA");
    const t = await tenantWith("iss", [key]);
    await refused(await decideWith(await jwt(key, claimsFor(t, t.agent, { iss: `https://unknown-${t.tenant}.example.com/` }))), /not registered with any tenant/);
    const { iss: _iss, ...withoutIss } = claimsFor(t, t.agent);
    await refused(await decideWith(await jwt(key, withoutIss)), /no issuer/);
  });

  it("tenant A's issuer over tenant B's key: refused, whether B's kid is unknown to A or the same as A's", async () => {
    const keyA = await signingKey("EdDSA");
    const a = await tenantWith("issuer-a", [keyA]);
    const keyB = await signingKey("EdDSA");
    const keyBSameKid = await signingKey("EdDSA", keyA.kid);
    const b = newTenant("issuer-b");
    await provider(b, { jwks: jwks(keyB, keyBSameKid) });
    // B's admins registered an agent of the same name: still not A's agent.
    await register({ tenant: b.tenant, agent: a.agent, role: "support" });
    await refused(await decideWith(await jwt(keyB, claimsFor(a, a.agent))), /not among the provider's keys/);
    await refused(await decideWith(await jwt(keyBSameKid, claimsFor(a, a.agent))), /signature does not verify/);
    // Each key verifies for its own tenant.
    expect((await accepted(await decideWith(await jwt(keyA, claimsFor(a, a.agent))))).identity.tenant).toBe(a.tenant);
    expect((await accepted(await decideWith(await jwt(keyB, claimsFor(b, a.agent))))).identity.tenant).toBe(b.tenant);
  });

  it("a token naming a key id the provider does not have", async () => {
    const key = await signingKey("EdDSA");
    const t = await tenantWith("unknown-kid", [key]);
    await refused(await decideWith(await jwt(key, claimsFor(t, t.agent), { kid: "no-such-key" })), /key no-such-key is not among the provider's keys/);
  });

  it("a tenant's JWT naming another tenant, or another agent, in the body: 403 identity_mismatch", async () => {
    const key = await signingKey("EdDSA");
    const t = await tenantWith("mismatch", [key]);
    const token = await jwt(key, claimsFor(t, t.agent));
    await forbidden(await decideWith(token, readTicket({ tenant: "acme" })), "identity_mismatch");
    await forbidden(await decideWith(token, readTicket({ agent: { id: "agent-1" } })), "identity_mismatch");
    await accepted(await decideWith(token, readTicket({ tenant: t.tenant, agent: { id: t.agent, role: "support" } })));
  });
});

describe("key rotation", () => {
  it("a key rotated out of the JWKS is refused; its successor is accepted", async () => {
    const keyA = await signingKey("EdDSA");
    const keyB = await signingKey("EdDSA");
    const t = await tenantWith("rotation", [keyA]);
    const tokenA = await jwt(keyA, claimsFor(t, t.agent));
    await accepted(await decideWith(tokenA));
    await provider(t, { jwks: jwks(keyB) });
    // The same token, verified a moment ago, is checked again against the new keys.
    await refused(await decideWith(tokenA), new RegExp(`key ${keyA.kid} is not among the provider's keys`));
    await accepted(await decideWith(await jwt(keyB, claimsFor(t, t.agent))));
  });
});

describe("a sub-agent spawned by an agent that acts on a JWT", () => {
  const spawnHelper = (token: string) =>
    decideWith(token, { session: { id: uniqueId("s") }, action: { type: "spawn_agent", spawn: { agent_id: "helper", role: "support", scopes: ["kb:read"] } } });
  const childToken = async (response: Response) => ((await accepted(response)) as Answer & { delegated_credential: { token: string } }).delegated_credential.token;

  it("is cut off with the tenant's provider, as the root JWT is", async () => {
    const key = await signingKey("EdDSA");
    const t = await tenantWith("jwt-root-provider", [key]);
    const root = await jwt(key, claimsFor(t, t.agent, { exp: nowS() + 600 }));
    const child = await childToken(await spawnHelper(root));
    await accepted(await decideWith(child));
    expect((await registryAdmin(`/${t.tenant}/provider`, { method: "DELETE" })).status).toBe(200);
    await refused(await decideWith(root), /not registered with any tenant|not the identity provider/);
    await refused(await decideWith(child), /is no longer/);
  });

  it("is cut off when the key that signed the root JWT is rotated out, as the root JWT is", async () => {
    const keyA = await signingKey("EdDSA");
    const keyB = await signingKey("EdDSA");
    const t = await tenantWith("jwt-root-rotation", [keyA]);
    const root = await jwt(keyA, claimsFor(t, t.agent, { exp: nowS() + 600 }));
    const child = await childToken(await spawnHelper(root));
    await accepted(await decideWith(child));
    await provider(t, { jwks: jwks(keyB) });
    await refused(await decideWith(child), new RegExp(`provider key ${keyA.kid} .* is no longer among the provider's keys`));
  });
});

describe("keys fetched from the provider's jwks_uri", () => {
  const server = () => inject("jwksServerUrl");

  async function serve(name: string, body: unknown): Promise<string> {
    const response = await fetch(`${server()}/jwks/${name}`, { method: "PUT", body: typeof body === "string" ? body : JSON.stringify(body) });
    expect(response.status).toBe(204);
    return `${server()}/jwks/${name}`;
  }
  async function setStatus(name: string, status: number): Promise<void> {
    expect((await fetch(`${server()}/jwks/${name}/status`, { method: "PUT", body: String(status) })).status).toBe(204);
  }
  const hits = async (name: string) => (await (await fetch(`${server()}/jwks/${name}/hits`)).json<{ hits: number }>()).hits;

  /** As if the registry last asked the provider more than a minute ago (its own refetch limit). */
  async function lastFetchedLongAgo(t: Tenant): Promise<void> {
    await runInDurableObject(registryObject(env, t.tenant), async (_instance, state) => {
      state.storage.sql.exec("UPDATE provider SET last_attempt_ms = last_attempt_ms - 120000");
    });
  }

  async function providerView(t: Tenant) {
    const response = await registryAdmin(`/${t.tenant}/provider`);
    expect(response.status).toBe(200);
    return response.json<{ key_ids: string[]; keys_confirmed_at: string | null; last_fetch_error: string | null; jwks_uri: string }>();
  }

  it("registration fetches the keys, and tokens signed with them are accepted", async () => {
    const name = uniqueId("jwks");
    const key = await signingKey("ES256");
    const uri = await serve(name, jwks(key));
    const t = newTenant("uri");
    const before = Date.now();
    await provider(t, { jwks_uri: uri });
    expect(await hits(name)).toBe(1);
    const view = await providerView(t);
    expect(view).toMatchObject({ jwks_uri: uri, key_ids: [key.kid], last_fetch_error: null });
    expect(Date.parse(view.keys_confirmed_at!)).toBeGreaterThanOrEqual(before);
    const agent = uniqueId("agent");
    await register({ tenant: t.tenant, agent, role: "support" });
    expect((await accepted(await decideWith(await jwt(key, claimsFor(t, agent))))).identity).toMatchObject({ tenant: t.tenant, agent, credential: { kind: "jwt", issuer: t.issuer } });
  });

  it("a jwks_uri that cannot be reached, answers an error, or serves no usable keys is refused at registration (422 jwks_unusable)", async () => {
    const key = await signingKey("EdDSA");
    const down = uniqueId("jwks-down");
    await serve(down, jwks(key));
    await setStatus(down, 500);
    const cases: Record<string, [string, RegExp]> = {
      unreachable: ["http://127.0.0.1:9/jwks.json", /network connection lost|refused|connect/i],
      notFound: [`${server()}/jwks/${uniqueId("never-served")}`, /answered 404/],
      failing: [`${server()}/jwks/${down}`, /answered 500/],
      garbage: [await serve(uniqueId("jwks-garbage"), "<html>not a key set</html>"), /did not return JSON/],
      notAJwks: [await serve(uniqueId("jwks-shape"), { issuer: "https://x" }), /not a JWKS/],
      privateOnly: [await serve(uniqueId("jwks-private"), { keys: [{ ...key.publicJwk, d: "AAAA" }] }), /no public signing key/],
      wrongType: [await serve(uniqueId("jwks-wrongtype"), { keys: [key.publicJwk] }), /no public signing key for RS256/],
    };
    for (const [what, [uri, why]] of Object.entries(cases)) {
      const t = newTenant(`bad-uri-${what.toLowerCase()}`);
      const response = await putProvider(t, { jwks_uri: uri, ...(what === "wrongType" ? { algorithms: ["RS256"] } : {}) });
      const text = await response.text();
      expect(response.status, `${what}: ${text}`).toBe(422);
      expect(JSON.parse(text), what).toMatchObject({ error: { code: "jwks_unusable", message: expect.stringMatching(why) } });
      expect((await registryAdmin(`/${t.tenant}/provider`)).status, what).toBe(404);
    }
    // Plain http to anywhere but this machine is not a jwks_uri at all.
    const remote = await putProvider(newTenant("remote-http"), { jwks_uri: "http://idp.example.com/jwks.json" });
    expect(remote.status).toBe(400);
    expect(await remote.json()).toMatchObject({ error: { code: "invalid_input", path: "jwks_uri" } });
  });

  it("a key the provider adds later is accepted once the edge, meeting its kid, has the registry fetch again", async () => {
    const name = uniqueId("jwks-rotate");
    const keyA = await signingKey("EdDSA");
    const keyB = await signingKey("ES256");
    const t = newTenant("uri-rotate");
    await provider(t, { jwks_uri: await serve(name, jwks(keyA)) });
    const agent = uniqueId("agent");
    await register({ tenant: t.tenant, agent, role: "support" });
    await accepted(await decideWith(await jwt(keyA, claimsFor(t, agent))));
    expect(await hits(name)).toBe(1);

    await serve(name, jwks(keyA, keyB));
    await lastFetchedLongAgo(t);
    const answer = await accepted(await decideWith(await jwt(keyB, claimsFor(t, agent))));
    expect(answer.identity).toMatchObject({ tenant: t.tenant, agent });
    expect(await hits(name)).toBe(2);
    expect((await providerView(t)).key_ids).toEqual([keyA.kid, keyB.kid]);
    const changes = await (await registryAdmin(`/${t.tenant}/changes`)).json<{ changes: Array<{ action: string; actor: string }> }>();
    expect(changes.changes).toContainEqual(expect.objectContaining({ action: "provider_keys_rotated", actor: "jwks_uri" }));
  });

  it("while the provider is down, the cached keys still verify, and a key id they do not hold is refused", async () => {
    const name = uniqueId("jwks-outage");
    const keyA = await signingKey("EdDSA");
    const keyC = await signingKey("EdDSA");
    const t = newTenant("uri-outage");
    await provider(t, { jwks_uri: await serve(name, jwks(keyA)) });
    const agent = uniqueId("agent");
    await register({ tenant: t.tenant, agent, role: "support" });

    // The provider goes down; it would now serve key C, if it answered.
    await serve(name, jwks(keyA, keyC));
    await setStatus(name, 500);
    await lastFetchedLongAgo(t);
    await refused(await decideWith(await jwt(keyC, claimsFor(t, agent))), new RegExp(`key ${keyC.kid} is not among the provider's keys`));
    // The registry did ask, and failed: the failure admitted nothing and kept what it had.
    expect(await hits(name)).toBe(2);
    const view = await providerView(t);
    expect(view.key_ids).toEqual([keyA.kid]);
    expect(view.last_fetch_error).toMatch(/500/);

    await accepted(await decideWith(await jwt(keyA, claimsFor(t, agent))));
    // A token under the cached kid that the cached key does not verify is refused too.
    await refused(await decideWith(await jwt(keyC, claimsFor(t, agent), { kid: keyA.kid })), /signature does not verify/);
  });

  it("once the provider has been unreachable for longer than keys_max_age_s, its keys are no longer trusted: 503, also for a token verified before", async () => {
    const name = uniqueId("jwks-aged");
    const key = await signingKey("EdDSA");
    const t = newTenant("uri-aged");
    await provider(t, { jwks_uri: await serve(name, jwks(key)), keys_max_age_s: 60 });
    const agent = uniqueId("agent");
    await register({ tenant: t.tenant, agent, role: "support" });
    const earlier = await jwt(key, claimsFor(t, agent));
    await accepted(await decideWith(earlier));

    // The provider goes down, and the keys were last confirmed two minutes ago.
    await setStatus(name, 500);
    await runInDurableObject(registryObject(env, t.tenant), async (_instance, state) => {
      state.storage.sql.exec("UPDATE provider SET keys_confirmed_ms = keys_confirmed_ms - 120000, last_attempt_ms = last_attempt_ms - 120000");
    });
    // This edge's copy of the registry is one refresh interval old (nothing in the registry changed).
    identityCaches(env).registries.invalidate(t.tenant);

    const fresh = await decideWith(await jwt(key, claimsFor(t, agent)));
    expect(fresh.status, await fresh.clone().text()).toBe(503);
    expect(await fresh.json()).toMatchObject({ error: { code: "identity_unavailable" } });
    const again = await decideWith(earlier);
    expect(again.status, await again.clone().text()).toBe(503);
  });
});

describe("the provider's claim mapping", () => {
  const mapping = { claims: { agent: "sub", role: "role", scopes: "scope" } };

  it("a role claim must be the agent's registered role", async () => {
    const key = await signingKey("EdDSA");
    const t = await tenantWith("role", [key], mapping);
    expect((await accepted(await decideWith(await jwt(key, claimsFor(t, t.agent, { role: "support" }))))).identity.role).toBe("support");
    await forbidden(await decideWith(await jwt(key, claimsFor(t, t.agent, { role: "admin" }))), "role_not_registered");
    await forbidden(await decideWith(await jwt(key, claimsFor(t, t.agent, { role: ["support"] }))), "role_not_registered");
  });

  it("an agent the tenant never registered is refused with 403 agent_not_registered", async () => {
    const key = await signingKey("EdDSA");
    const t = await tenantWith("unregistered", [key], mapping);
    await forbidden(await decideWith(await jwt(key, claimsFor(t, uniqueId("stranger")))), "agent_not_registered");
  });

  it("an unregistered agent whose name is also a property of every object (constructor, __proto__, toString) is refused with 403 agent_not_registered", async () => {
    const key = await signingKey("EdDSA");
    // With a scopes claim mapped, and with the provider's default mapping (sub only).
    for (const t of [await tenantWith("proto-agent", [key], mapping), await tenantWith("proto-agent-sub", [key])]) {
      for (const name of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
        const response = await decideWith(await jwt(key, claimsFor(t, name, { scope: "tickets:read" })));
        expect(response.status, `${t.tenant} ${name}: ${await response.clone().text()}`).toBe(403);
        expect(await response.json()).toMatchObject({ error: { code: "agent_not_registered" } });
      }
    }
  });

  it("the scopes claim narrows the registration's scopes; a scope the registration lacks is dropped", async () => {
    const key = await signingKey("EdDSA");
    const t = await tenantWith("scopes", [key], mapping, ["tickets:read", "kb:read"]);
    const narrower = await accepted(await decideWith(await jwt(key, claimsFor(t, t.agent, { scope: "tickets:read" }))));
    expect(narrower.identity.scopes).toEqual(["tickets:read"]);
    const wider = await accepted(await decideWith(await jwt(key, claimsFor(t, t.agent, { scope: ["tickets:read", "payments:write"] }))));
    expect(wider.identity.scopes).toEqual(["tickets:read"]);
    const none = await accepted(await decideWith(await jwt(key, claimsFor(t, t.agent))));
    expect(none.identity.scopes).toEqual([]);
    // What the token did not grant, the body cannot claim.
    const token = await jwt(key, claimsFor(t, t.agent, { scope: "tickets:read" }));
    await forbidden(await decideWith(token, readTicket({ agent: { scopes: ["kb:read"] } })), "identity_mismatch");
  });
});

describe("malformed tokens are 401, never 500", () => {
  it("a token longer than 8 KiB, even one validly signed", async () => {
    const key = await signingKey("EdDSA");
    const t = await tenantWith("long", [key]);
    const long = await jwt(key, claimsFor(t, t.agent, { padding: "x".repeat(8 * 1024) }));
    expect(long.length).toBeGreaterThan(8 * 1024);
    await refused(await decideWith(long), /longer than 8192/);
  });

  it("tokens that are not three base64url segments, or whose header or payload is not a JSON object", async () => {
    const key = await signingKey("EdDSA");
    const t = await tenantWith("malformed", [key]);
    const good = await jwt(key, claimsFor(t, t.agent));
    const [header, payload, signature] = good.split(".");
    const raw = (bytes: number[]) => toBase64Url(new Uint8Array(bytes));
    const cases: Record<string, [string, RegExp]> = {
      "two segments": [`${header}.${payload}`, /three base64url segments/],
      "four segments": [`${good}.${signature}`, /three base64url segments/],
      "one segment": ["eyJhbGciOiJFZERTQSJ9", /three base64url segments/],
      "standard base64, not url": [`${header}.${payload}+/.${signature}`, /three base64url segments/],
      "garbage JSON header": [`${toBase64Url(encode('{"alg":"EdDSA",'))}.${payload}.${signature}`, /header is not base64url JSON/],
      "header is an array": [`${b64json(["EdDSA"])}.${payload}.${signature}`, /header is not a JSON object/],
      "header is not UTF-8": [`${raw([0x7b, 0xff, 0xfe, 0x7d])}.${payload}.${signature}`, /header is not base64url JSON/],
      "payload is a string": [`${header}.${b64json("claims")}.${signature}`, /payload is not a JSON object/],
      "payload is null": [`${header}.${b64json(null)}.${signature}`, /payload is not a JSON object/],
      "signature of impossible length": [`${header}.${payload}.A`, /./],
      "header of impossible length": [`A.${payload}.${signature}`, /./],
    };
    for (const [what, [token, why]] of Object.entries(cases)) {
      const response = await decideWith(token);
      expect(response.status, what).toBe(401);
      await refused(response, why);
    }
    // Not a bearer credential at all.
    for (const authorization of ["Basic dXNlcjpwYXNz", `Bearer ${good} extra`, "Bearer"]) {
      const response = await exports.default.fetch("http://edge/v1/decide", {
        method: "POST",
        headers: { "content-type": "application/json", authorization },
        body: JSON.stringify(readTicket()),
      });
      expect(response.status, authorization).toBe(401);
      expect(response.headers.get("www-authenticate"), authorization).toMatch(/^Bearer realm="tollgate", error="invalid_token"/);
    }
  });

  it("an unsigned token whose issuer cannot go into a header (a newline, CR LF and a header, NUL) is refused with 401 and a challenge of visible ASCII", async () => {
    const unsigned = (payload: Record<string, unknown>) => `${b64json({ alg: "EdDSA", typ: "JWT" })}.${b64json(payload)}.AAAA`;
    for (const iss of ["https://evil.example/\nx", "https://evil.example/\r\nSet-Cookie: a=b", "https://evil.example/\u0000", "https://evil.example/é"]) {
      const response = await decideWith(unsigned({ iss, exp: nowS() + 300 }));
      expect(response.headers.get("set-cookie"), JSON.stringify(iss)).toBeNull();
      await refused(response, /not registered with any tenant/);
      expect(response.headers.get("www-authenticate"), JSON.stringify(iss)).toMatch(/^[\x20-\x7e]*$/);
      const authzen = await exports.default.fetch("http://edge/access/v1/evaluation", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${unsigned({ iss, exp: nowS() + 300 })}` },
        body: JSON.stringify({ subject: { type: "agent", id: "a" }, action: { name: "tool_call" }, resource: { type: "tool", id: "tickets.read" } }),
      });
      expect(authzen.status, JSON.stringify(iss)).toBe(401);
    }
  });

  it("a token whose issuer is the name of a property of every object (constructor, __proto__, toString) is refused as an unregistered issuer, without a tenant looked up by that name", async () => {
    const key = await signingKey("EdDSA");
    const t = await tenantWith("proto-iss", [key]);
    for (const issuer of ["constructor", "__proto__", "toString", "valueOf"]) {
      const response = await decideWith(await jwt(key, claimsFor(t, t.agent, { iss: issuer })));
      expect(response.status, `${issuer}: ${await response.clone().text()}`).toBe(401);
      await refused(response, /not registered with any tenant/);
    }
  });
});
