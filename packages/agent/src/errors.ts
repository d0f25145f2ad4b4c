/**
 * @module errors
 * What the SDK throws, typed so an agent framework can tell them apart:
 *
 * - `Denied`: the action may not happen (reasons, rule ids, decision id);
 * - `ApprovalRequired`: a person must approve it first; `wait()` waits for
 *   them and submits the action again with the approval;
 * - `TollgateError`: the request itself was refused (a bad credential, a
 *   malformed action) or the answer could not be understood. Never thrown
 *   for an unreachable edge: that is decided by the offline paths.
 */
import type { Decision } from "./decision.ts";

export class TollgateError extends Error {
  constructor(
    message: string,
    /** The edge's error code (`unauthenticated`, `invalid_input`, …), or the SDK's own. */
    readonly code: string,
    /** The HTTP status, when the edge answered. */
    readonly status?: number,
  ) {
    super(message);
    this.name = "TollgateError";
  }
}

export class Denied extends Error {
  readonly decisionId: string;
  readonly reasons: Decision["reasons"];
  readonly rules: string[];
  constructor(readonly decision: Decision) {
    super(`denied: ${decision.reasons.map((reason) => `${reason.rule} (${reason.message})`).join("; ") || "no reason given"}`);
    this.name = "Denied";
    this.decisionId = decision.id;
    this.reasons = decision.reasons;
    this.rules = decision.rules;
  }
}

export interface WaitOptions {
  signal?: AbortSignal;
  /** How long to wait for a person at most (default: until the approval expires). */
  timeoutMs?: number;
}

export class ApprovalRequired extends Error {
  readonly decisionId: string;
  readonly approvalId: string;
  readonly expiresAt: string | undefined;
  readonly reasons: Decision["reasons"];
  readonly rules: string[];
  constructor(
    readonly decision: Decision,
    private readonly resume: (options: WaitOptions) => Promise<Decision>,
  ) {
    super(`approval required: ${decision.reasons.map((reason) => reason.rule).join(", ")} (approval ${decision.approval?.id ?? "unknown"})`);
    this.name = "ApprovalRequired";
    this.decisionId = decision.id;
    this.approvalId = decision.approval?.id ?? "";
    this.expiresAt = decision.approval?.expires_at;
    this.reasons = decision.reasons;
    this.rules = decision.rules;
  }

  /**
   * Waits until the approval is decided (or `timeoutMs`, or the signal),
   * then submits the same action again with the approval. Resolves to that
   * decision; throws `Denied` if it was rejected, expired or is refused now.
   */
  wait(options: WaitOptions = {}): Promise<Decision> {
    return this.resume(options);
  }
}
