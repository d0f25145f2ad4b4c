/**
 * @module well-known-keys
 * Public keys, for anyone who checks what an edge signed, offline:
 *
 *   GET /.well-known/jwks.json            the keys that sign decision receipts, as a
 *                                         JWK Set (RFC 7517): every trusted, unrevoked
 *                                         key with scope `receipt`. A revoked key leaves
 *                                         the set, so receipts it signed stop verifying.
 *   GET /.well-known/tollgate-trust.json  the whole trust store's public half (ids,
 *                                         public keys, scopes, revocations): what an
 *                                         agent verifies signed policy layers against
 *                                         before it evaluates them offline.
 *
 * Both are public and cacheable for a few minutes, like any JWKS.
 */
import { Hono } from "hono";
import { keyCovers } from "../bundles/manifest";
import { trustStoreFrom } from "../bundles/trust";

/** The published receipt keys, as a JWK Set's `keys`; the console verifies receipts against exactly these. */
export function publishedReceiptKeys(env: Env) {
  return trustStoreFrom(env.TRUST_STORE)
    .keys.filter((key) => !key.revoked && keyCovers(key, "receipt"))
    .map((key) => ({ kty: "OKP", crv: "Ed25519", x: key.public_key, kid: key.id, use: "sig", alg: "EdDSA" }));
}

export const wellKnownKeysRoute = new Hono<{ Bindings: Env }>().get("/jwks.json", (c) => {
  c.header("cache-control", "public, max-age=300");
  return c.json({ keys: publishedReceiptKeys(c.env) });
}).get("/tollgate-trust.json", (c) => {
  const keys = trustStoreFrom(c.env.TRUST_STORE).keys.map(({ id, public_key, scopes, revoked }) => ({ id, public_key, scopes, ...(revoked ? { revoked } : {}) }));
  c.header("cache-control", "public, max-age=300");
  return c.json({ keys });
});
