/**
 * @module local-policy
 * What the client needs from a locally held policy to decide offline: the
 * contract between the SDK's core (which must stay small, and run where
 * WebAssembly cannot be compiled) and `@tollgate/agent/offline`, which
 * fetches the last signed policy, verifies it and evaluates it with the
 * edge's own evaluator and builtins.
 */
import type { Reason } from "./decision.ts";
import type { EdgeTransport } from "./edge-transport.ts";
import type { Verdict } from "./receipt.ts";

export interface OfflinePermission {
  /** Tiers the policy lets be decided offline. */
  tiers: string[];
  /** The longest time since the agent last reached an edge, in seconds. */
  max_window_s: number;
  /** The share of a session's remaining budget a lease may take. */
  lease_fraction: number;
}

/** What the edge established about the agent, as its last answer said (`identity` of a decision). */
export interface KnownIdentity {
  tenant: string;
  agent: string;
  role: string;
  scopes: string[];
  registration: { risk_tier: string; [field: string]: unknown };
  [field: string]: unknown;
}

export interface LocalRequest {
  identity: KnownIdentity;
  /** `data_classes`: what the agent is known to have read, which the policy judges external tools by. */
  session: { id: string; usage: Record<string, number>; data_classes?: string[] };
  action: Record<string, unknown>;
  tier?: string;
  nowMs: number;
}

export interface LocalAnswer {
  decision: Verdict;
  reasons: Reason[];
  obligations: unknown[];
  tier: string;
  cost: { tokens: number; api_calls: number; cost_usd: number };
  layers: Array<{ scope: string; digest: string; version: number }>;
  key: string;
  region: string;
}

export interface HeldPolicy {
  key: string;
  region: string;
  offline: OfflinePermission;
  /** The earliest expiry among the layers, ms since the epoch: never decide past it. */
  expiresMs: number;
  /** The effective tier of an action under this policy (the edge's rule: the highest floor). */
  tierOf(action: Record<string, unknown>, declared: string | undefined, registered: string): string;
  /** The tier's fail mode by the policy's data; closed when it does not say. */
  failMode(tier: string): "open" | "closed";
  evaluate(request: LocalRequest): Promise<LocalAnswer>;
}

export interface LocalPolicy {
  /** Fetches the governing policy's signed layers if they changed, verifies and loads them; a bad bundle leaves the held one in place. */
  refresh(transport: EdgeTransport, nowMs: number): Promise<void>;
  /** The verified policy held now, if any. */
  held(): HeldPolicy | undefined;
}
