/**
 * Identity, from a second security review: what a tenant's provider keys,
 * their refresh and the credentials rooted in them must still hold when
 * the provider changes under them.
 *
 * Every test has its own tenant and issuer, as in jwt.test.ts.
 */
import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { toBase64Url } from "../../src/bundles/signature";
import { jwksDestinationProblem } from "../../src/identity/provider";
import { RefreshingCache } from "../../src/identity/refreshing-cache";
import { identityCaches, registryObject } from "../../src/identity/registry-cache";
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
  const cases = [
    { name: "a root JWT without a kid (the provider had one key)", tenant: "kidless-root", kid: () => null },
    { name: "a root JWT whose kid the provider reuses for a new key", tenant: "reused-kid-root", kid: () => uniqueId("kid-reused") },
  ];
  for (const { name, tenant, kid } of cases) {
    it(`${name}: replacing that key cuts the tree off`, async () => {
      const named = kid();
      const old = await ed25519(named);
      const replacement = await ed25519(named);
      const t = await tenantWith(tenant, { jwks: jwks(old) });
      const root = await jwt(old, claimsFor(t));
      const child = await childToken(await spawnHelper(root));
      await accepted(await decideWith(child));

      await setProvider(t, { jwks: jwks(replacement) });
      await refused(await decideWith(root), /signature does not verify/);
      await refused(await decideWith(child), /no longer among the provider's keys/);
    });
  }
});

/** Serves `body` as a JWKS on the tests' loopback provider (test/setup/15-jwks-server.ts). */
async function serve(name: string, body: unknown): Promise<string> {
  const response = await fetch(`${inject("jwksServerUrl")}/jwks/${name}`, { method: "PUT", body: JSON.stringify(body) });
  expect(response.status).toBe(204);
  return `${inject("jwksServerUrl")}/jwks/${name}`;
}

describe("a provider replaced while the registry is fetching its old keys", () => {
  /** Holds this isolate's fetches of `uri` until released; `started` settles when the first one is asked. */
  function holdFetchesOf(uri: string) {
    const realFetch = globalThis.fetch;
    let release!: () => void;
    let started!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const asked = new Promise<void>((resolve) => (started = resolve));
    globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
      if (String(input instanceof Request ? input.url : input) === uri) {
        started();
        await released;
      }
      return realFetch(input, init);
    }) as typeof fetch;
    return { asked, release, restore: () => (globalThis.fetch = realFetch) };
  }

  it("an admin who replaces a compromised jwks_uri with inline keys while a refresh is under way: the old keys do not come back", async () => {
    const compromised = await ed25519();
    const replacement = await ed25519();
    const uri = await serve(uniqueId("jwks-race"), jwks(compromised));
    const t = await tenantWith("refresh-race", { jwks_uri: uri });
    await accepted(await decideWith(await jwt(compromised, claimsFor(t))));

    // A refresh is due (the registry last asked more than a minute ago) and starts; the provider is slow to answer.
    await runInDurableObject(registryObject(env, t.tenant), async (_instance, state) => {
      state.storage.sql.exec("UPDATE provider SET last_attempt_ms = last_attempt_ms - 120000");
    });
    const held = holdFetchesOf(uri);
    try {
      const refreshing = registryObject(env, t.tenant).refreshKeys(true);
      await held.asked;
      await setProvider(t, { jwks: jwks(replacement) });
      held.release();
      await refreshing;
    } finally {
      held.restore();
    }

    identityCaches(env).registries.invalidate(t.tenant);
    const view = await (await registryAdmin(`/${t.tenant}/provider`)).json<{ key_ids: string[]; jwks_uri?: string }>();
    expect(view.key_ids).toEqual([replacement.kid]);
    await refused(await decideWith(await jwt(compromised, claimsFor(t))), /not among the provider's keys/);
    await accepted(await decideWith(await jwt(replacement, claimsFor(t))));
  });
});

describe("where a tenant's jwks_uri may point", () => {
  it("an address inside a network (cloud metadata, private, link-local, internal names) is refused as input, never fetched", async () => {
    const inside = [
      "https://169.254.169.254/latest/meta-data/jwks.json",
      "https://metadata.google.internal/computeMetadata/v1/jwks",
      "https://10.0.0.7/jwks.json",
      "https://192.168.1.1/jwks.json",
      "https://[fd00::1]/jwks.json",
      "https://[::ffff:a9fe:a9fe]/jwks.json",
    ];
    for (const uri of inside) {
      const tenant = `rv-inside-${crypto.randomUUID().slice(0, 8)}`;
      const response = await registryAdmin(`/${tenant}/provider`, {
        method: "PUT",
        body: JSON.stringify({ issuer: `https://idp.${tenant}.example.com/`, audience: "tollgate", jwks_uri: uri }),
      });
      const text = await response.text();
      expect(response.status, `${uri}: ${text}`).toBe(400);
      expect(JSON.parse(text), uri).toMatchObject({ error: { code: "invalid_input", path: "jwks_uri" } });
    }
  });

  it("loopback only where the deployment says so (local development and these tests), as for webhooks", () => {
    for (const uri of ["http://127.0.0.1:8787/jwks.json", "https://localhost/jwks.json", "http://[::1]/jwks.json"]) {
      expect(jwksDestinationProblem(uri, {}), uri).toBeDefined();
      expect(jwksDestinationProblem(uri, { IDENTITY_JWKS_TO_LOOPBACK: "on" }), uri).toBeUndefined();
    }
    expect(jwksDestinationProblem("https://login.example.com/.well-known/jwks.json", {})).toBeUndefined();
  });
});

describe("a header the edge does not understand", () => {
  it("a token whose crit header names an extension the edge does not understand is refused (RFC 7515: it must not be accepted)", async () => {
    const key = await ed25519();
    const t = await tenantWith("crit", { jwks: jwks(key) });
    await accepted(await decideWith(await jwt(key, claimsFor(t))));
    const extension = "https://idp.example.com/use-only-for";
    await refused(await decideWith(await jwt(key, claimsFor(t), { crit: [extension], [extension]: "billing-reports" })), /crit/);
    await refused(await decideWith(await jwt(key, claimsFor(t), { b64: false, crit: ["b64"] })), /crit/);
  });
});

describe("the isolate that revokes a key refuses it from the next request on", () => {
  it("a background refresh begun before the change does not bring the copy from before it back (the admin route's invalidate)", async () => {
    const REFRESH = 600_000;
    type Versioned = { version: number; revoked: string[] };
    const registry = { value: { version: 1, revoked: [] } as Versioned };
    let answered: Promise<void> | undefined;
    const cache = new RefreshingCache<Versioned>(
      async () => {
        const copy = structuredClone(registry.value);
        await answered;
        return copy;
      },
      { refreshMs: REFRESH, maxStaleMs: 3 * REFRESH, timeoutMs: 1_000, maxEntries: 10, version: (v) => v.version },
    );
    const pending: Array<Promise<unknown>> = [];
    const background = (work: Promise<unknown>) => void pending.push(work);
    await cache.get("acme", Date.now(), background);

    // Past half the interval a request starts a refresh; the registry reads its copy and is slow to answer.
    let answer!: () => void;
    answered = new Promise<void>((resolve) => (answer = resolve));
    await cache.get("acme", Date.now() + 0.75 * REFRESH, background);
    expect(pending).toHaveLength(1);

    // Meanwhile an admin revokes k1 through this isolate, which forgets its copy.
    registry.value = { version: 2, revoked: ["k1"] };
    cache.invalidate("acme");
    answered = undefined;
    answer();
    await Promise.all(pending);

    expect((await cache.get("acme", Date.now(), background)).revoked).toEqual(["k1"]);
  });
});

describe("a sub-agent below a JWT while its provider cannot be reached", () => {
  it("once the provider's keys are older than keys_max_age_s, the tree is refused with its root (503), not kept going on keys the root may no longer use", async () => {
    const name = uniqueId("jwks-aged-tree");
    const key = await ed25519();
    const t = await tenantWith("aged-tree", { jwks_uri: await serve(name, jwks(key)), keys_max_age_s: 60 });
    const root = await jwt(key, claimsFor(t));
    const child = await childToken(await spawnHelper(root));
    await accepted(await decideWith(child));
    const unseenChild = await childToken(await spawnHelper(root));

    // The provider goes down (it may have withdrawn the key meanwhile), and the keys were last confirmed two minutes ago.
    expect((await fetch(`${inject("jwksServerUrl")}/jwks/${name}/status`, { method: "PUT", body: "500" })).status).toBe(204);
    await runInDurableObject(registryObject(env, t.tenant), async (_instance, state) => {
      state.storage.sql.exec("UPDATE provider SET keys_confirmed_ms = keys_confirmed_ms - 120000, last_attempt_ms = last_attempt_ms - 120000");
    });
    identityCaches(env).registries.invalidate(t.tenant);

    for (const token of [root, child, unseenChild]) {
      const response = await decideWith(token);
      const text = await response.text();
      expect(response.status, text).toBe(503);
      expect(JSON.parse(text)).toMatchObject({ error: { code: "identity_unavailable" } });
    }
  });
});
