/**
 * Identity, from a second security review: what a tenant's provider keys,
 * their refresh and the credentials rooted in them must still hold when
 * the provider changes under them.
 *
 * Every test has its own tenant and issuer, as in jwt.test.ts.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { toBase64Url } from "../../src/bundles/signature";
import { uniqueId } from "../session/helpers";
import { register, registryAdmin } from "./credentials";

const encode = (text: string) => new TextEncoder().encode(text) as Uint8Array<ArrayBuffer>;
const b64json = (value: unknown) => toBase64Url(encode(JSON.stringify(value)));
const nowS = () => Math.floor(Date.now() / 1000);

interface SigningKey {
  kid: string | null;
  privateKey: CryptoKey;
  publicJwk: JsonWebKey;
}

/** An Ed25519 key; without a kid when `kid` is null (a provider with one key need not name it). */
async function ed25519(kid: string | null = uniqueId("kid")): Promise<SigningKey> {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const { kty, crv, x } = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as JsonWebKey;
  return { kid, privateKey: pair.privateKey, publicJwk: { kty, crv, x, ...(kid !== null ? { kid } : {}), use: "sig", alg: "EdDSA" } as JsonWebKey };
}

async function jwt(key: SigningKey, claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  const signingInput = `${b64json({ alg: "EdDSA", typ: "JWT", ...(key.kid !== null ? { kid: key.kid } : {}), ...header })}.${b64json(claims)}`;
  const signature = await crypto.subtle.sign({ name: "Ed25519" }, key.privateKey, encode(signingInput));
  return `${signingInput}.${toBase64Url(new Uint8Array(signature))}`;
}

const jwks = (...keys: SigningKey[]) => ({ keys: keys.map((key) => key.publicJwk) });

interface Tenant {
  tenant: string;
  issuer: string;
  audience: string;
  agent: string;
}

async function tenantWith(label: string, config: Record<string, unknown>): Promise<Tenant> {
  const tenant = `rv-${label}-${crypto.randomUUID().slice(0, 8)}`;
  const t = { tenant, issuer: `https://idp.${tenant}.example.com/`, audience: `https://tollgate.example.com/${tenant}`, agent: uniqueId("agent") };
  await setProvider(t, config);
  await register({ tenant, agent: t.agent, role: "support", scopes: ["tickets:read", "kb:read"] });
  return t;
}

async function setProvider(t: Tenant, config: Record<string, unknown>): Promise<void> {
  const response = await registryAdmin(`/${t.tenant}/provider`, { method: "PUT", body: JSON.stringify({ issuer: t.issuer, audience: t.audience, ...config }) });
  expect(response.status, await response.clone().text()).toBe(200);
}

const claimsFor = (t: Tenant, extra: Record<string, unknown> = {}) => ({ iss: t.issuer, aud: t.audience, sub: t.agent, iat: nowS(), exp: nowS() + 600, jti: uniqueId("jti"), ...extra });

function decideWith(token: string, body: Record<string, unknown> = { session: { id: uniqueId("s") }, action: { type: "tool_call", tool: "tickets.read", args: { id: "T-1" } } }): Promise<Response> {
  return exports.default.fetch("http://edge/v1/decide", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
}

async function accepted(response: Response): Promise<Record<string, unknown>> {
  const text = await response.text();
  expect(response.status, text).toBe(200);
  return JSON.parse(text) as Record<string, unknown>;
}

async function refused(response: Response, why: RegExp): Promise<void> {
  const text = await response.text();
  expect(response.status, text).toBe(401);
  expect(JSON.parse(text)).toMatchObject({ error: { code: "invalid_credential", message: expect.stringMatching(why) } });
}

const spawnHelper = (token: string) => decideWith(token, { session: { id: uniqueId("s") }, action: { type: "spawn_agent", spawn: { agent_id: "helper", role: "support", scopes: ["kb:read"] } } });
const childToken = async (response: Response) => ((await accepted(response)) as { delegated_credential: { token: string } }).delegated_credential.token;

describe("a sub-agent below a JWT dies with the provider key that signed the root, however the key is named", () => {
  it("a root JWT without a kid (the provider had one key): replacing that key cuts the tree off", async () => {
    const old = await ed25519(null);
    const replacement = await ed25519(null);
    const t = await tenantWith("kidless-root", { jwks: jwks(old) });
    const root = await jwt(old, claimsFor(t));
    const child = await childToken(await spawnHelper(root));
    await accepted(await decideWith(child));

    await setProvider(t, { jwks: jwks(replacement) });
    await refused(await decideWith(root), /signature does not verify/);
    await refused(await decideWith(child), /no longer among the provider's keys/);
  });

  it("a root JWT whose kid the provider reuses for a new key: replacing the key under the same kid cuts the tree off", async () => {
    const kid = uniqueId("kid-reused");
    const old = await ed25519(kid);
    const replacement = await ed25519(kid);
    const t = await tenantWith("reused-kid-root", { jwks: jwks(old) });
    const root = await jwt(old, claimsFor(t));
    const child = await childToken(await spawnHelper(root));
    await accepted(await decideWith(child));

    await setProvider(t, { jwks: jwks(replacement) });
    await refused(await decideWith(root), /signature does not verify/);
    await refused(await decideWith(child), /no longer among the provider's keys/);
  });
});
