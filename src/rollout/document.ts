/**
 * @module document
 * A scope's rollout configuration as a signed, versioned document: its mode
 * (`enforce`, or `observe`: decide and log, but tell the agent allow) and
 * the shadow candidate evaluated beside its active layer, if any. It is
 * signed like a layer, by a key that holds the `rollout` scope and covers
 * the scope it configures, so no one without that key can switch a scope's
 * enforcement off; the store's signed snapshot binds its digest, so it
 * reaches every edge with the snapshot and can never go back a version.
 * Pure: the CLI signs and verifies with it, the store and the edge verify.
 */
import { z } from "zod";
import { canonicalJson, sha256Hex } from "../bundles/canonical.ts";
import { keyCovers, scopeSchema, signedSchema, type TrustStore } from "../bundles/manifest.ts";
import { verifyDocument } from "../bundles/signature.ts";
import { BundleError } from "../bundles/verify.ts";

export type Mode = "enforce" | "observe";

/** Keys that may sign rollout documents hold this scope, besides the scope they configure. */
export const ROLLOUT_KEY_SCOPE = "rollout";

export const rolloutDocumentSchema = z.strictObject({
  scope: scopeSchema,
  version: z.number().int().positive(),
  mode: z.enum(["enforce", "observe"]),
  shadow: z.strictObject({ version: z.number().int().positive(), digest: z.string().regex(/^sha256:[0-9a-f]{64}$/) }).nullable(),
  created: z.iso.datetime(),
  key_id: z.string().min(1),
  note: z.string().max(200).optional(),
});

export type RolloutDocument = z.infer<typeof rolloutDocumentSchema>;

/** What a snapshot binds of a rollout document. */
export async function rolloutDigest(document: RolloutDocument): Promise<string> {
  return `sha256:${await sha256Hex(canonicalJson(document))}`;
}

/** Verifies a signed rollout document for `scope`: schema, a trusted unrevoked key of that scope with the rollout scope, the signature. */
export async function verifyRollout(signed: unknown, trust: TrustStore, scope: string): Promise<RolloutDocument> {
  const envelope = signedSchema.safeParse(signed);
  if (!envelope.success) throw new BundleError("malformed", "rollout: not a signed document");
  const parsed = rolloutDocumentSchema.safeParse(envelope.data.document);
  if (!parsed.success) throw new BundleError("malformed", `rollout: ${parsed.error.issues[0].path.join(".")}: ${parsed.error.issues[0].message}`);
  const document = parsed.data;
  if (document.scope !== scope) throw new BundleError("scope_mismatch", `rollout: for ${document.scope}, expected ${scope}`);
  const key = trust.keys.find((k) => k.id === document.key_id);
  if (!key) throw new BundleError("unknown_key", `rollout: signed by unknown key ${document.key_id}`);
  if (key.revoked) throw new BundleError("revoked_key", `rollout: signed by revoked key ${document.key_id}`);
  if (!key.scopes.includes(ROLLOUT_KEY_SCOPE) || !keyCovers(key, scope)) {
    throw new BundleError("key_not_allowed_for_scope", `rollout: key ${document.key_id} may not configure the rollout of ${scope}`);
  }
  if (!(await verifyDocument(document, envelope.data.signature, key.public_key))) throw new BundleError("bad_signature", `rollout: signature does not verify with key ${document.key_id}`);
  return document;
}
