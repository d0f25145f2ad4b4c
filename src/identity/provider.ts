/**
 * @module provider
 * A tenant's own identity provider, as its admins register it: the issuer
 * and audience its agents' JWTs carry, the keys that sign them (a JWKS given
 * inline, or a `jwks_uri` the registry fetches), which claims name the agent,
 * its role and its scopes, and how much clock skew to allow. Everything here
 * is checked when it is registered, so the edge only ever meets a usable
 * configuration.
 */
import { z } from "zod";
import { isJsonObject, ownMember } from "../own-members";
import { publicEndpointProblem } from "../network-hosts";
import { algorithmsOfKey, JWS_ALGORITHMS, type JwsAlgorithm } from "./jws";

/** A claim: a top-level name (`sub`) or a JSON pointer into nested claims (`/realm_access/role`). */
const claimPath = z.string().min(1).max(256);

const MAX_KEYS = 32;
export const MAX_JWKS_BYTES = 64 * 1024;

const jwk = z.looseObject({ kty: z.string(), kid: z.string().max(256).optional() });
export const jwksSchema = z.strictObject({ keys: z.array(jwk).max(MAX_KEYS) });

function httpsOrLoopback(value: string): boolean {
  try {
    const url = new URL(value);
    // Plain HTTP only for a provider on this machine (local development and tests).
    return url.protocol === "https:" || (url.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname));
  } catch {
    return false;
  }
}

/**
 * Why the registry may not fetch keys from `value`, or undefined when it may: a public https
 * endpoint, as for webhooks (its answers and errors come back to the tenant's admin); loopback
 * only where the deployment says so (IDENTITY_JWKS_TO_LOOPBACK = "on": local development, tests).
 */
export function jwksDestinationProblem(value: string, env: { IDENTITY_JWKS_TO_LOOPBACK?: string }): string | undefined {
  return publicEndpointProblem(value, env.IDENTITY_JWKS_TO_LOOPBACK === "on");
}

export const providerConfigSchema = z
  .strictObject({
    issuer: z.string().min(1).max(512),
    audience: z.union([z.string().min(1).max(512), z.array(z.string().min(1).max(512)).min(1).max(10)]),
    jwks: jwksSchema.optional(),
    jwks_uri: z.string().max(2048).refine(httpsOrLoopback, "jwks_uri must be an https URL").optional(),
    claims: z
      .strictObject({ agent: claimPath.default("sub"), role: claimPath.optional(), scopes: claimPath.optional() })
      .default({ agent: "sub" }),
    algorithms: z.array(z.enum(JWS_ALGORITHMS as [JwsAlgorithm, ...JwsAlgorithm[]])).min(1).default([...JWS_ALGORITHMS]),
    clock_skew_s: z.number().int().min(0).max(300).default(60),
    /** How long fetched keys stay usable while the provider cannot be reached. */
    keys_max_age_s: z.number().int().min(60).max(7 * 86400).default(86400),
  })
  .superRefine((config, ctx) => {
    if ((config.jwks === undefined) === (config.jwks_uri === undefined)) {
      ctx.addIssue({ code: "custom", path: ["jwks"], message: "give exactly one of jwks and jwks_uri" });
    }
  });

export type ProviderConfig = z.infer<typeof providerConfigSchema>;

/** The keys of a JWKS that can verify one of the allowed algorithms; an error when there are none. */
export function usableKeys(jwks: unknown, algorithms: readonly JwsAlgorithm[]): JsonWebKey[] {
  const parsed = jwksSchema.safeParse(jwks);
  if (!parsed.success) throw new Error(`not a JWKS: ${parsed.error.issues[0].path.join(".")}: ${parsed.error.issues[0].message}`);
  const keys = (parsed.data.keys as JsonWebKey[]).filter((key) => algorithmsOfKey(key).some((alg) => algorithms.includes(alg)));
  if (keys.length === 0) throw new Error(`the JWKS has no public signing key for ${algorithms.join(", ")}`);
  return keys;
}

/** A claim's value by name or JSON pointer (RFC 6901). */
export function claimAt(payload: Record<string, unknown>, path: string): unknown {
  // Own members only: a claim named "constructor" that the token lacks is absent, not Object.
  const member = (node: unknown, key: string) => (isJsonObject(node) ? ownMember(node, key) : undefined);
  if (!path.startsWith("/")) return member(payload, path);
  let node: unknown = payload;
  for (const raw of path.slice(1).split("/")) node = member(node, raw.replaceAll("~1", "/").replaceAll("~0", "~"));
  return node;
}

/** Scopes as OAuth writes them (one space-separated string) or as a list. */
export function scopesOf(value: unknown): string[] | undefined {
  if (typeof value === "string") return value.split(" ").filter((scope) => scope.length > 0);
  if (Array.isArray(value) && value.every((scope) => typeof scope === "string")) return value as string[];
  return undefined;
}
