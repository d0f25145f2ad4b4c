/**
 * @module authenticate
 * Turns a bearer credential into an Identity, at the edge, from cached data
 * only (no network call on the common path). Three kinds are accepted:
 *
 * - an agent key minted by Tollgate (`tgk_…`): its hash must match a live
 *   key of a registered agent in the tenant's registry;
 * - a JWT from the tenant's own identity provider: its issuer names the
 *   tenant, and it must verify against that tenant's registered keys, with
 *   `iss`, `aud`, `exp` and `nbf` checked; the provider's claim mapping
 *   names the agent (which must be registered), its role and scopes;
 * - a credential the edge minted for a sub-agent (delegation.ts).
 *
 * A verified credential (an agent key or a JWT) is remembered until it
 * expires (bounded), against the registry version it was checked with, so a
 * credential reused for many calls is verified once, and a registry change
 * (a key revoked, an agent's registration changed) makes it be checked again.
 */
import { trustStoreFrom } from "../bundles/trust";
import { ApiError } from "../errors";
import { ownMember } from "../own-members";
import { parseAgentKey, sameDigest, secretHash } from "./agent-key";
import { DELEGATION_TYPE, verifyDelegation } from "./delegation";
import { algorithmsOfKey, checkTimes, decodeJws, jwkThumbprint, TokenError, verifySignature, type DecodedJws, type JwsAlgorithm } from "./jws";
import { claimAt, scopesOf } from "./provider";
import { SourceUnavailable } from "./refreshing-cache";
import { identityCaches, registryObject } from "./registry-cache";
import { AGENT_ID_PATTERN } from "./registration";
import type { Identity, RegistrySnapshot } from "./types";

export const REALM = "tollgate";

/** 401 with the RFC 6750 challenge: no credential, or one that does not verify. */
export function unauthenticated(message: string, challenge = `Bearer realm="${REALM}"`): ApiError {
  return new ApiError(401, "unauthenticated", message, undefined, { "www-authenticate": challenge });
}

function invalidCredential(message: string): ApiError {
  // The message may quote a token's own claims (its issuer, key id): in a header only visible ASCII, and no quote.
  const description = message.replace(/[^\x20-\x7e]/g, "?").replaceAll('"', "'").replaceAll("\\", "/");
  return new ApiError(401, "invalid_credential", message, undefined, {
    "www-authenticate": `Bearer realm="${REALM}", error="invalid_token", error_description="${description}"`,
  });
}

const forbidden = (code: string, message: string) => new ApiError(403, code, message);

const unavailable = (message: string) => new ApiError(503, "identity_unavailable", message);

export interface AuthContext {
  env: Env;
  nowMs: number;
  background: (work: Promise<unknown>) => void;
}

async function registryOf(context: AuthContext, tenant: string): Promise<RegistrySnapshot> {
  try {
    return await identityCaches(context.env).registries.get(tenant, context.nowMs, context.background);
  } catch (error) {
    if (error instanceof SourceUnavailable) throw unavailable(`the registry of ${tenant} cannot be reached: ${error.message}`);
    throw error;
  }
}

interface Verified {
  identity: Identity;
  expiresMs: number;
  version: number;
}

// Verified credentials by token (agent keys and JWTs), until they expire; checked again when the tenant's registry changes.
const MAX_VERIFIED = 5_000;
const verified = new Map<string, Verified>();

function remember(token: string, identity: Identity, expiresMs: number, version: number): void {
  verified.set(token, { identity, expiresMs, version });
  if (verified.size > MAX_VERIFIED) verified.delete(verified.keys().next().value!);
}

async function fromAgentKey(token: string, context: AuthContext): Promise<Identity> {
  const parsed = parseAgentKey(token);
  if (!parsed) throw invalidCredential("malformed agent key");
  const registry = await registryOf(context, parsed.tenant);
  // A key this isolate verified against this very registry version, unexpired, proves the same identity again.
  const known = verified.get(token);
  if (known && known.version === registry.version && known.expiresMs > context.nowMs) return known.identity;
  verified.delete(token);
  const entry = ownMember(registry.keys, parsed.keyId);
  // One message for unknown, revoked and wrong: which it was is not the caller's business.
  const refused = () => invalidCredential("agent key not recognised (unknown, revoked or expired)");
  if (!entry || !sameDigest(entry.secret_sha256, await secretHash(parsed.secret))) throw refused();
  if (entry.expires_ms !== null && entry.expires_ms <= context.nowMs) throw refused();
  const registration = ownMember(registry.agents, entry.agent);
  if (!registration) throw refused();
  const identity: Identity = {
    tenant: parsed.tenant,
    agent: entry.agent,
    role: registration.role,
    // A key minted with scopes keeps only those its agent's registration still grants: narrowing a
    // registration narrows every key already issued, as it does a JWT's claimed scopes.
    scopes: entry.scopes ? entry.scopes.filter((scope) => registration.scopes.includes(scope)) : registration.scopes,
    credential: { kind: "agent_key", id: parsed.keyId, ...(entry.expires_ms !== null ? { expires_at: new Date(entry.expires_ms).toISOString() } : {}) },
    registration,
    delegation: { depth: 0 },
  };
  remember(token, identity, entry.expires_ms ?? Number.POSITIVE_INFINITY, registry.version);
  return identity;
}

// Keys of one tenant whose provider rotated: asked again at most this often per isolate.
const REFETCH_MIN_MS = 60_000;
const lastRefetch = new Map<string, number>();

async function providerKey(jws: DecodedJws, tenant: string, registry: RegistrySnapshot, context: AuthContext): Promise<{ key: JsonWebKey; registry: RegistrySnapshot }> {
  const alg = jws.header.alg as JwsAlgorithm;
  const kid = jws.header.kid;
  const pick = (snapshot: RegistrySnapshot) => {
    const keys = snapshot.provider?.keys ?? [];
    if (typeof kid === "string") return keys.find((key) => (key as { kid?: string }).kid === kid);
    const usable = keys.filter((key) => algorithmsOfKey(key).includes(alg));
    return usable.length === 1 ? usable[0] : undefined;
  };
  const found = pick(registry);
  if (found) return { key: found, registry };
  if (typeof kid !== "string") throw invalidCredential("the token names no key (kid) and the provider has several");
  const last = lastRefetch.get(tenant) ?? Number.NEGATIVE_INFINITY;
  if (context.nowMs - last < REFETCH_MIN_MS) throw invalidCredential(`the token's key ${kid} is not among the provider's keys`);
  // The provider may have rotated its keys since the registry last fetched them.
  lastRefetch.set(tenant, context.nowMs);
  if (lastRefetch.size > 2_000) lastRefetch.delete(lastRefetch.keys().next().value!);
  try {
    await registryObject(context.env, tenant).refreshKeys(true);
  } catch (error) {
    console.error(`identity: provider keys of ${tenant} could not be refreshed: ${(error as Error).message}`);
  }
  identityCaches(context.env).registries.invalidate(tenant);
  const refreshed = await registryOf(context, tenant);
  const again = pick(refreshed);
  if (!again) throw invalidCredential(`the token's key ${kid} is not among the provider's keys`);
  return { key: again, registry: refreshed };
}

function audienceMatches(aud: unknown, accepted: string[]): boolean {
  const given = typeof aud === "string" ? [aud] : Array.isArray(aud) ? aud : [];
  return given.some((value) => typeof value === "string" && accepted.includes(value));
}

/** Fetched provider keys are trusted only while younger than the provider's keys_max_age_s. */
function assertKeysFresh(registry: RegistrySnapshot, nowMs: number): void {
  const provider = registry.provider;
  if (!provider) return;
  const age = nowMs - provider.keys_confirmed_ms;
  if (age > provider.keys_max_age_s * 1000) {
    throw unavailable(`the identity provider of ${registry.tenant} has not been reachable for ${Math.round(age / 1000)} s; its keys are too old to trust`);
  }
}

async function fromProviderJwt(jws: DecodedJws, token: string, context: AuthContext): Promise<Identity> {
  const issuer = jws.payload.iss;
  if (typeof issuer !== "string") throw invalidCredential("the token has no issuer (iss)");
  let directory;
  try {
    directory = await identityCaches(context.env).directory.get("issuers", context.nowMs, context.background);
  } catch (error) {
    throw unavailable(`the issuer directory cannot be reached: ${(error as Error).message}`);
  }
  const tenant = ownMember(directory.issuers, issuer);
  if (!tenant) throw invalidCredential(`issuer ${issuer} is not registered with any tenant`);
  let registry = await registryOf(context, tenant);
  const provider = registry.provider;
  if (!provider || provider.issuer !== issuer) throw invalidCredential(`issuer ${issuer} is not the identity provider of ${tenant}`);
  const alg = jws.header.alg;
  if (typeof alg !== "string" || !(provider.algorithms as string[]).includes(alg)) {
    throw invalidCredential(`algorithm ${String(alg)} is not accepted (accepted: ${provider.algorithms.join(", ")})`);
  }
  const picked = await providerKey(jws, tenant, registry, context);
  registry = picked.registry;
  assertKeysFresh(registry, context.nowMs);
  if (!(await verifySignature(jws, picked.key, alg as JwsAlgorithm))) throw invalidCredential("the token's signature does not verify");
  const expiresMs = checkTimes(jws.payload, context.nowMs, provider.clock_skew_s);
  if (!audienceMatches(jws.payload.aud, provider.audiences)) throw invalidCredential("the token is not for this audience (aud)");
  const agent = claimAt(jws.payload, provider.claims.agent);
  if (typeof agent !== "string" || !AGENT_ID_PATTERN.test(agent)) throw invalidCredential(`the token's ${provider.claims.agent} claim does not name an agent`);
  const registration = ownMember(registry.agents, agent);
  if (!registration) throw forbidden("agent_not_registered", `agent ${agent} is not registered with ${tenant}`);
  let role = registration.role;
  if (provider.claims.role) {
    const claimed = claimAt(jws.payload, provider.claims.role);
    if (claimed !== undefined && claimed !== registration.role) {
      throw forbidden("role_not_registered", `the token's role ${JSON.stringify(claimed)} is not the role agent ${agent} is registered for`);
    }
    role = registration.role;
  }
  let scopes = registration.scopes;
  if (provider.claims.scopes) {
    const claimed = scopesOf(claimAt(jws.payload, provider.claims.scopes)) ?? [];
    // The provider may grant less than the registration; never more.
    scopes = claimed.filter((scope) => registration.scopes.includes(scope));
  }
  const jti = jws.payload.jti;
  return {
    tenant,
    agent,
    role,
    scopes,
    credential: {
      kind: "jwt",
      id: typeof jti === "string" && jti.length <= 256 ? jti : `sha256:${(await secretHash(token)).slice(0, 32)}`,
      issuer,
      ...(typeof jws.header.kid === "string" ? { key_id: jws.header.kid } : {}),
      key_thumbprint: await jwkThumbprint(picked.key),
      expires_at: new Date(expiresMs).toISOString(),
    },
    registration,
    delegation: { depth: 0 },
  };
}

async function fromDelegation(jws: DecodedJws, context: AuthContext): Promise<Identity> {
  const claims = await verifyDelegation(jws, trustStoreFrom(context.env.TRUST_STORE), context.nowMs).catch((error: Error) => {
    throw invalidCredential(error.message);
  });
  const registry = await registryOf(context, claims.tenant);
  const registration = ownMember(registry.agents, claims.root_agent);
  if (!registration) throw invalidCredential(`agent ${claims.root_agent}, which this delegation descends from, is no longer registered`);
  if (registration.role !== claims.root_role) {
    throw invalidCredential(`agent ${claims.root_agent}, which this delegation descends from, is now registered as ${registration.role}, not ${claims.root_role}`);
  }
  const root = claims.root_credential;
  if (root.kind === "agent_key" && !ownMember(registry.keys, root.id)) {
    throw invalidCredential(`the agent key ${root.id} this delegation descends from was revoked`);
  }
  if (root.kind === "jwt") {
    // The tenant withdraws its JWTs by removing or replacing its provider, or a key of it: so are the trees they root.
    const provider = registry.provider;
    if (!provider || provider.issuer !== root.issuer) throw invalidCredential(`the identity provider ${root.issuer} whose token this delegation descends from is no longer ${claims.tenant}'s`);
    // Keys too old to trust for the root JWT are too old to tell whether its key still stands: the tree waits with it.
    assertKeysFresh(registry, context.nowMs);
    // The key itself, by thumbprint: a root JWT may name no kid, and a provider may put a new key under an old kid.
    // A credential minted before roots carried a thumbprint is judged by its kid.
    const stillHeld =
      root.key_thumbprint !== undefined
        ? (await Promise.all(provider.keys.map(jwkThumbprint))).includes(root.key_thumbprint)
        : root.key_id === undefined || provider.keys.some((key) => (key as { kid?: string }).kid === root.key_id);
    if (!stillHeld) {
      throw invalidCredential(`the provider key ${root.key_id ?? root.key_thumbprint} that signed the token this delegation descends from is no longer among the provider's keys`);
    }
  }
  return {
    tenant: claims.tenant,
    agent: claims.sub,
    role: claims.role,
    // Narrowing the root's registration narrows its whole tree at once, as it does the root's own keys and tokens.
    scopes: claims.scopes.filter((scope) => registration.scopes.includes(scope)),
    credential: { kind: "delegated", id: claims.jti, expires_at: new Date(claims.exp * 1000).toISOString() },
    registration,
    delegation: {
      depth: claims.depth,
      parent_agent: claims.parent_agent,
      parent_session: claims.parent_session,
      root_agent: claims.root_agent,
      root_credential: claims.root_credential,
    },
  };
}

async function fromJwt(token: string, context: AuthContext): Promise<Identity> {
  const known = verified.get(token);
  if (known && known.expiresMs > context.nowMs) {
    const registry = await registryOf(context, known.identity.tenant);
    if (registry.version === known.version) {
      const { credential, delegation } = known.identity;
      if (credential.kind === "jwt" || delegation.root_credential?.kind === "jwt") assertKeysFresh(registry, context.nowMs);
      return known.identity;
    }
  }
  verified.delete(token);
  let jws: DecodedJws;
  try {
    jws = decodeJws(token);
  } catch (error) {
    throw invalidCredential((error as TokenError).message);
  }
  let identity: Identity;
  try {
    identity = jws.header.typ === DELEGATION_TYPE ? await fromDelegation(jws, context) : await fromProviderJwt(jws, token, context);
  } catch (error) {
    if (error instanceof TokenError) throw invalidCredential(error.message);
    throw error;
  }
  const registry = await registryOf(context, identity.tenant);
  remember(token, identity, Date.parse(identity.credential.expires_at!), registry.version);
  return identity;
}

/** The identity a bearer credential proves; throws 401 (none, or invalid), 403 or 503 (cannot tell now). */
export async function authenticate(authorization: string | undefined, context: AuthContext): Promise<Identity> {
  if (!authorization) throw unauthenticated("an agent credential is required (Authorization: Bearer <agent key or JWT>)");
  const match = /^Bearer[ ]+([\x21-\x7e]+)$/i.exec(authorization);
  if (!match) throw invalidCredential("the Authorization header is not a Bearer credential");
  const token = match[1];
  if (token.startsWith("tgk_")) return fromAgentKey(token, context);
  return fromJwt(token, context);
}
