/**
 * @module receipt-signer
 * Signs each decision's receipt (the format is the agent SDK's,
 * packages/agent/src/receipt.ts) with the edge's receipt key: an Ed25519
 * private JWK in the RECEIPT_SIGNING_KEY secret, whose public half is in the
 * trust store under RECEIPT_KEY_ID with scope `receipt` and is published at
 * `/.well-known/jwks.json`. Without that key, or with one the trust store
 * does not vouch for, decisions carry no receipt: nothing may rely on a
 * receipt nobody can verify.
 *
 * The receipt binds what the agent was told. `exp` is `iat + ttl_s` when the
 * policy lets the decision be reused (`ttl_s > 0`); otherwise the receipt is
 * proof of one decision, valid for the policy's proof window, and `ttl_s: 0`
 * tells every holder never to reuse it.
 */
import { actionHash } from "../../packages/agent/src/canonical-json.ts";
import { RECEIPT_ISSUER, RECEIPT_TYPE, type ReceiptClaims, type Verdict } from "../../packages/agent/src/receipt.ts";
import { keyCovers } from "../bundles/manifest";
import { trustStoreFrom } from "../bundles/trust";
import { signEdDsaJws } from "../identity/jws";
import { signingKeyFromSecret } from "../identity/signing-key";
import type { LayerRef } from "../types";

/** How long a receipt of a decision that may not be reused stays valid as proof, when policy data names no window. */
export const DEFAULT_PROOF_WINDOW_S = 60;

export interface ReceiptSubject {
  decision_id: string;
  tenant: string;
  agent: string;
  session: string;
  action: unknown;
  decision: string;
  tier: string;
  mode: string;
  policy: { key: string; layers: LayerRef[] };
  ttl_s: number;
  proof_window_s: number;
}

/** The receipt key, when this edge has one the trust store lets sign receipts. */
function receiptKey(env: Env): { id: string; key: Promise<CryptoKey> } | undefined {
  const id = env.RECEIPT_KEY_ID;
  if (!id) return undefined;
  const trusted = trustStoreFrom(env.TRUST_STORE).keys.find((candidate) => candidate.id === id);
  if (!trusted || trusted.revoked || !keyCovers(trusted, "receipt")) return undefined;
  const key = signingKeyFromSecret(env.RECEIPT_SIGNING_KEY);
  return key ? { id, key } : undefined;
}

export async function signReceipt(env: Env, subject: ReceiptSubject, nowMs: number): Promise<string | undefined> {
  const signer = receiptKey(env);
  if (!signer) return undefined;
  const iat = Math.floor(nowMs / 1000);
  const ttl = Number.isSafeInteger(subject.ttl_s) && subject.ttl_s > 0 ? subject.ttl_s : 0;
  const claims: ReceiptClaims = {
    iss: RECEIPT_ISSUER,
    jti: subject.decision_id,
    iat,
    exp: iat + (ttl > 0 ? ttl : subject.proof_window_s),
    tenant: subject.tenant,
    sub: subject.agent,
    session: subject.session,
    action: await actionHash(subject.action),
    decision: subject.decision as Verdict,
    tier: subject.tier,
    mode: subject.mode,
    policy: { key: subject.policy.key, layers: subject.policy.layers.map(({ scope, digest, version }) => ({ scope, digest, version })) },
    ttl_s: ttl,
  };
  try {
    return await signEdDsaJws({ alg: "EdDSA", typ: RECEIPT_TYPE, kid: signer.id }, claims, await signer.key);
  } catch (error) {
    console.error(`receipt not signed: ${(error as Error).message}`);
    return undefined;
  }
}
