/**
 * @module offline-state
 * What the client learns from the edge's answers, to decide sensibly when
 * it cannot reach the edge: who the edge says the agent is, each tool's
 * effective tier and each tier's fail mode as the
 * policy gave them. All of it only ever makes an offline decision as strict
 * as the edge's: a tier never seen fails closed.
 */
import type { KnownIdentity } from "./local-policy.ts";

const TIERS = ["low", "medium", "high", "critical"];

export function higherTier(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return TIERS.indexOf(a) >= TIERS.indexOf(b) ? a : b;
}

export class OfflineState {
  identity: KnownIdentity | undefined;
  private readonly toolTiers = new Map<string, string>();
  private readonly failModes = new Map<string, "open" | "closed">();

  /** Learns from one of the edge's decision answers. */
  learn(response: Record<string, unknown>, tool: string | undefined): void {
    const identity = response.identity as KnownIdentity | undefined;
    if (identity && typeof identity.tenant === "string" && typeof identity.agent === "string") this.identity = identity;
    const tier = (response.risk as { tier?: unknown } | undefined)?.tier;
    if (typeof tier !== "string" || !TIERS.includes(tier)) return;
    if (tool !== undefined) this.toolTiers.set(tool, higherTier(this.toolTiers.get(tool), tier)!);
    const failMode = response.fail_mode;
    // Only a fail mode the policy itself named for this tier (not one a failure applied) is remembered.
    if ((failMode === "open" || failMode === "closed") && response.fail_mode_applied === undefined) {
      this.failModes.set(tier, this.failModes.get(tier) === "closed" ? "closed" : failMode);
    }
  }

  toolTier(tool: string | undefined): string | undefined {
    return tool === undefined ? undefined : this.toolTiers.get(tool);
  }

  failMode(tier: string): "open" | "closed" | undefined {
    return this.failModes.get(tier);
  }
}
