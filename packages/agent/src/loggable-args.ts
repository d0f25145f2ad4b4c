/**
 * @module loggable-args
 * Which arguments of an action may be written down, as the policy's
 * obligations say: nothing by default; the fields a `log_args` obligation
 * names; a `hash` obligation replaces fields by their sha256; a `redact`
 * obligation keeps the arguments out entirely. The edge applies it to its
 * audit records, and this SDK to the decisions it spools offline, so an
 * argument the policy keeps out of the log never reaches the agent's disk
 * either.
 */
import { canonicalJson, sha256Hex } from "./canonical-json.ts";

type Obligation = { type?: string; fields?: unknown };

/** The policy's obligations of one type (`log_args`, `hash`, `redact`, `audit_sync`…). */
export function obligationsOf(obligations: unknown[], type: string): Obligation[] {
  return obligations.filter((o): o is Obligation => typeof o === "object" && o !== null && (o as Obligation).type === type);
}

function fieldsOf(obligations: unknown[], type: string): string[] | undefined {
  const found = obligationsOf(obligations, type);
  if (found.length === 0) return undefined;
  return found.flatMap((o) => (Array.isArray(o.fields) ? o.fields.filter((f): f is string => typeof f === "string") : []));
}

/** The arguments as the policy allows them to be logged, or undefined when none may be. */
export async function loggableArgs(args: unknown, obligations: unknown[]): Promise<{ args?: Record<string, unknown>; redacted: boolean }> {
  if (!args || typeof args !== "object") return { redacted: false };
  if (fieldsOf(obligations, "redact") !== undefined) return { redacted: true };
  const allowed = fieldsOf(obligations, "log_args");
  if (!allowed || allowed.length === 0) return { redacted: false };
  const hashed = new Set(fieldsOf(obligations, "hash") ?? []);
  const out: Record<string, unknown> = {};
  for (const field of allowed) {
    if (!Object.prototype.hasOwnProperty.call(args, field)) continue;
    const value = (args as Record<string, unknown>)[field];
    out[field] = hashed.has(field) ? `sha256:${await sha256Hex(canonicalJson(value))}` : value;
  }
  return { args: out, redacted: false };
}
