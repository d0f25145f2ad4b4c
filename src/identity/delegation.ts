/**
 * @module delegation
 * Credentials the edge mints for sub-agents. An allowed `spawn_agent`
 * returns a short-lived JWT, signed with the edge's identity key (EdDSA; its
 * public half is in the trust store with scope `identity`), that binds the
 * child to its parent's tenant and session, the scopes it was granted and
 * its depth. The child presents it on every call, so what it may do comes
 * from what the edge signed, not from what it claims. It never outlives its
 * parent's credential, and it dies with the agent key at the root of its
 * tree: revoking that key cuts off every descendant.
 */
import { keyCovers, type TrustStore } from "../bundles/manifest";
import { checkTimes, signEdDsaJws, TokenError, verifySignature, type DecodedJws } from "./jws";
import { signingKeyFromSecret } from "./signing-key";
import type { Identity, RootCredential } from "./types";

export const DELEGATION_TYPE = "tg-delegation+jwt";
const ISSUER = "tollgate";
/** Minted by this deployment, checked by it: its clocks agree closely. */
const CLOCK_SKEW_S = 30;

export interface DelegationClaims {
  iss: typeof ISSUER;
  jti: string;
  iat: number;
  exp: number;
  tenant: string;
  sub: string;
  role: string;
  scopes: string[];
  depth: number;
  parent_agent: string;
  parent_session: string;
  root_agent: string;
  /** The root agent's registered role when this credential was given: a changed role cuts the tree off. */
  root_role: string;
  root_credential: RootCredential;
}

export interface DelegatedCredential {
  token: string;
  agent: string;
  role: string;
  scopes: string[];
  depth: number;
  parent_session: string;
  expires_at: string;
}

function identitySigningKey(env: Env): Promise<CryptoKey> | undefined {
  return env.IDENTITY_KEY_ID ? signingKeyFromSecret(env.IDENTITY_SIGNING_KEY) : undefined;
}

/** Whether this deployment can mint sub-agent credentials at all. */
export function canDelegate(env: Env): boolean {
  return identitySigningKey(env) !== undefined;
}

export async function mintDelegation(
  env: Env,
  parent: Identity,
  child: { agent: string; role: string; scopes: string[] },
  parentSession: string,
  nowMs: number,
  ttlS: number,
): Promise<DelegatedCredential> {
  const key = identitySigningKey(env);
  if (!key) throw new Error("IDENTITY_KEY_ID and IDENTITY_SIGNING_KEY are not configured");
  const parentExpiry = parent.credential.expires_at ? Date.parse(parent.credential.expires_at) / 1000 : Number.POSITIVE_INFINITY;
  const iat = Math.floor(nowMs / 1000);
  const claims: DelegationClaims = {
    iss: ISSUER,
    jti: crypto.randomUUID(),
    iat,
    exp: Math.floor(Math.min(iat + ttlS, parentExpiry)),
    tenant: parent.tenant,
    sub: child.agent,
    role: child.role,
    scopes: child.scopes,
    depth: parent.delegation.depth + 1,
    parent_agent: parent.agent,
    parent_session: parentSession,
    root_agent: parent.delegation.root_agent ?? parent.agent,
    // For a sub-agent, `registration` is already the root's.
    root_role: parent.registration.role,
    root_credential: parent.delegation.root_credential ?? rootCredentialOf(parent),
  };
  return {
    token: await signEdDsaJws({ alg: "EdDSA", typ: DELEGATION_TYPE, kid: env.IDENTITY_KEY_ID }, claims, await key),
    agent: claims.sub,
    role: claims.role,
    scopes: claims.scopes,
    depth: claims.depth,
    parent_session: parentSession,
    expires_at: new Date(claims.exp * 1000).toISOString(),
  };
}

/** A root agent's own credential, as its descendants' credentials name it. */
function rootCredentialOf(root: Identity): RootCredential {
  const { kind, id, issuer, key_id, key_thumbprint } = root.credential;
  if (kind === "jwt") return { kind, id, issuer, ...(key_id !== undefined ? { key_id } : {}), ...(key_thumbprint !== undefined ? { key_thumbprint } : {}) };
  return { kind: "agent_key", id };
}

const isStringArray = (value: unknown): value is string[] => Array.isArray(value) && value.every((item) => typeof item === "string");
const isOptionalString = (value: unknown) => value === undefined || typeof value === "string";

/** Verifies a delegated credential's signature, times and shape; the registry checks come after. */
export async function verifyDelegation(jws: DecodedJws, trust: TrustStore, nowMs: number): Promise<DelegationClaims> {
  const { header, payload } = jws;
  if (header.alg !== "EdDSA") throw new TokenError("a delegated credential is signed with EdDSA");
  const key = trust.keys.find((candidate) => candidate.id === header.kid);
  if (!key || key.revoked || !keyCovers(key, "identity")) throw new TokenError(`the delegated credential's key ${String(header.kid)} is not trusted to sign identities`);
  if (!(await verifySignature(jws, { kty: "OKP", crv: "Ed25519", x: key.public_key }, "EdDSA"))) throw new TokenError("the delegated credential's signature does not verify");
  checkTimes(payload, nowMs, CLOCK_SKEW_S);
  const claims = payload as Partial<DelegationClaims>;
  const root = claims.root_credential;
  const wellFormed =
    claims.iss === ISSUER &&
    typeof claims.jti === "string" &&
    typeof claims.tenant === "string" &&
    typeof claims.sub === "string" &&
    typeof claims.role === "string" &&
    isStringArray(claims.scopes) &&
    Number.isInteger(claims.depth) &&
    (claims.depth ?? 0) > 0 &&
    typeof claims.parent_agent === "string" &&
    typeof claims.parent_session === "string" &&
    typeof claims.root_agent === "string" &&
    typeof claims.root_role === "string" &&
    typeof root === "object" &&
    root !== null &&
    typeof root.id === "string" &&
    (root.kind === "agent_key" || (root.kind === "jwt" && typeof root.issuer === "string" && isOptionalString(root.key_id) && isOptionalString(root.key_thumbprint)));
  if (!wellFormed) throw new TokenError("the delegated credential is missing claims");
  return claims as DelegationClaims;
}
