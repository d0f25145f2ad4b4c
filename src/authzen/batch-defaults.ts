/**
 * @module batch-defaults
 * The default values of an Access Evaluations request (AuthZEN 1.0 §7.1.1):
 * the top-level subject, action, resource and context stand in for any of
 * them an item leaves out. An item's own value replaces the default whole;
 * nothing is merged field by field, so an item never ends up describing a
 * subject or resource that neither it nor the top level sent.
 */
import type { EvaluationsRequest } from "./request-schema";

const DEFAULTED = ["subject", "action", "resource", "context"] as const;

export function withDefaults(request: EvaluationsRequest, item: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...item };
  for (const key of DEFAULTED) {
    const own = item[key];
    const fallback = request[key];
    // Null stands for absent (§11.5), in an item as at the top level.
    if ((own === undefined || own === null) && fallback !== undefined && fallback !== null) merged[key] = fallback;
  }
  return merged;
}
