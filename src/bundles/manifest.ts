/**
 * @module manifest
 * The signed documents of the bundle store, as schemas:
 *
 * - a layer manifest: one policy layer (scope, monotonically increasing
 *   version, created/expires, entrypoint, sha256 of every file, the layer
 *   digest, the rule ids it can raise, the signing key id);
 * - a snapshot: the exact layer digests that make up the current policy
 *   everywhere, so layers from different publishes can never be mixed;
 * - the trust store: which key ids may sign which scopes, and which are revoked.
 *
 * Signed documents travel as `{document, signature}`; the signature is
 * Ed25519 over the canonical JSON of `document`.
 */
import { z } from "zod";
import { TENANT_ID } from "../schema/tenant-id.ts";

export const SCOPE_PATTERN = new RegExp(`^(global|region:[a-z0-9-]{1,32}|tenant:${TENANT_ID})$`);
export const scopeSchema = z.string().regex(SCOPE_PATTERN, "scope is global, region:<r> or tenant:<t>");
const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);
const isoTime = z.iso.datetime();

export const LAYER_FILES = ["policy.wasm", "data.json"] as const;

export const layerManifestSchema = z.strictObject({
  scope: scopeSchema,
  version: z.number().int().positive(),
  created: isoTime,
  expires: isoTime,
  entrypoint: z.string().min(1),
  files: z.strictObject({ "policy.wasm": sha256Hex, "data.json": sha256Hex }),
  digest: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  rules: z.array(z.string()),
  key_id: z.string().min(1),
  opa_version: z.string(),
});
export type LayerManifest = z.infer<typeof layerManifestSchema>;

export const snapshotSchema = z.strictObject({
  version: z.number().int().positive(),
  created: isoTime,
  expires: isoTime,
  layers: z.record(scopeSchema, z.strictObject({ version: z.number().int().positive(), digest: z.string() })),
  /** The rollout document in force per scope (mode, shadow candidate), each signed by a key of that scope. */
  rollout: z.record(scopeSchema, z.strictObject({ version: z.number().int().positive(), digest: z.string() })).optional(),
  key_id: z.string().min(1),
});
export type Snapshot = z.infer<typeof snapshotSchema>;

export const trustedKeySchema = z.strictObject({
  id: z.string().min(1),
  /** Ed25519 public key, raw 32 bytes, base64url. */
  public_key: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  /** Scopes this key may sign: "global", "region:eu", "tenant:acme", "region:*", "tenant:*", or "snapshot". */
  scopes: z.array(z.string()).min(1),
  revoked: z.boolean().optional(),
});
export const trustStoreSchema = z.strictObject({ keys: z.array(trustedKeySchema) });
export type TrustedKey = z.infer<typeof trustedKeySchema>;
export type TrustStore = z.infer<typeof trustStoreSchema>;

export const signedSchema = z.strictObject({ document: z.unknown(), signature: z.string().regex(/^[A-Za-z0-9_-]+$/) });
export type Signed<T> = { document: T; signature: string };

/** Does a key's scope list cover this scope? */
export function keyCovers(key: TrustedKey, scope: string): boolean {
  if (key.scopes.includes(scope)) return true;
  const kind = scope.split(":")[0];
  return key.scopes.includes(`${kind}:*`);
}

/** Composition order: global, then the region, then the tenant. */
export function scopesFor(region: string, tenant: string): string[] {
  return ["global", `region:${region}`, `tenant:${tenant}`];
}
