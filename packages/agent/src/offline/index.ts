/**
 * @module @tollgate/agent/offline
 * Local evaluation for offline decisions: pass `localPolicy()` as the
 * client's `offline.policy`, and while the edge cannot be reached the agent
 * decides with the last signed policy it fetched, within the tiers, window
 * and budget lease the policy grants. Needs WebAssembly compiled from bytes
 * and JSON.rawJSON (Node 21+, Deno, current Chromium).
 */
import { SignedPolicy, type SignedPolicyOptions, type TrustKeys } from "./signed-policy.ts";

export type { SignedPolicyOptions, TrustKeys };
export { SignedPolicy };

export function localPolicy(options: SignedPolicyOptions = {}): SignedPolicy {
  return new SignedPolicy(options);
}
