/**
 * @module trust
 * The edge's trust store: key ids, their Ed25519 public keys, the scopes each
 * may sign and whether it is revoked. It is configuration (the TRUST_STORE
 * secret), so keys rotate and are revoked without a code deploy. A missing or
 * malformed trust store trusts nothing: the edge keeps its baseline.
 */
import { trustStoreSchema, type TrustStore } from "./manifest.ts";

let cached: { source: string; store: TrustStore } | undefined;

export function trustStoreFrom(raw: string | undefined): TrustStore {
  const source = raw ?? "";
  if (cached?.source === source) return cached.store;
  let store: TrustStore = { keys: [] };
  try {
    const parsed = trustStoreSchema.safeParse(JSON.parse(source));
    if (parsed.success) store = parsed.data;
    else console.error(`TRUST_STORE is malformed: ${parsed.error.issues[0].message}; trusting no keys`);
  } catch {
    if (source) console.error("TRUST_STORE is not JSON; trusting no keys");
  }
  cached = { source, store };
  return store;
}
