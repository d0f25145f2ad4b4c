/**
 * @module well-known-keys
 * `GET /.well-known/jwks.json`: the keys anyone needs to verify a decision
 * receipt offline, as a JWK Set (RFC 7517): every trusted, unrevoked key
 * with scope `receipt`. A revoked key leaves the set, so receipts it signed
 * stop verifying. Public and cacheable for a few minutes, like any JWKS.
 */
import { Hono } from "hono";
import { keyCovers } from "../bundles/manifest";
import { trustStoreFrom } from "../bundles/trust";

export const wellKnownKeysRoute = new Hono<{ Bindings: Env }>().get("/jwks.json", (c) => {
  const keys = trustStoreFrom(c.env.TRUST_STORE)
    .keys.filter((key) => !key.revoked && keyCovers(key, "receipt"))
    .map((key) => ({ kty: "OKP", crv: "Ed25519", x: key.public_key, kid: key.id, use: "sig", alg: "EdDSA" }));
  c.header("cache-control", "public, max-age=300");
  return c.json({ keys });
});
