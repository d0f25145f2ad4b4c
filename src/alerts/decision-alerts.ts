/**
 * @module decision-alerts
 * The alert a critical-tier denial raises: who, which tool, which rules.
 * Built from what the edge established, never from the arguments (which
 * the policy may redact).
 */
import type { Identity } from "../identity/types";
import type { DecisionInput } from "../schema/decision-input";
import type { Reason } from "../types";
import { alertEvent, type AlertEvent } from "./alert-event";

export function criticalDenyAlert(identity: Identity, decisionId: string, input: DecisionInput, reasons: Reason[]): AlertEvent {
  const tool = typeof input.action.tool === "string" ? input.action.tool : input.action.type;
  const rules = [...new Set(reasons.map((r) => r.rule))];
  return alertEvent("critical_deny", identity.tenant, `a critical-tier ${tool} by ${identity.agent} was denied (${rules.join(", ") || "no rule named"})`, `/console/decisions/${identity.tenant}/${decisionId}`, {
    decision_id: decisionId,
    agent: identity.agent,
    session: input.session.id,
    tool,
    rules,
  });
}
