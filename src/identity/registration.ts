/**
 * @module registration
 * What an agent registration looks like when a tenant's admin submits it,
 * and what an agent id may be. Agent ids come from the registry or from a
 * tenant's JWT claims (`sub` of some providers holds `|` or `@`), so the
 * alphabet is generous but excludes `/`, `!`, whitespace and control
 * characters. A sub-agent's id is made by the edge from its parent's
 * (subAgentId), so it is never one a registration could hold.
 */
import { z } from "zod";
import { RISK_TIERS } from "../schema/risk-tier";

export const AGENT_ID_PATTERN = /^[A-Za-z0-9._:@|+=~-]{1,128}$/;
export const AGENT_ID_MESSAGE = "agent ids are 1 to 128 letters, digits and . _ : @ | + = ~ -";

/**
 * A sub-agent's id is its parent's, this separator, and the name its parent
 * gave it ("agent-7!researcher"). The separator is outside the registered
 * alphabet, so no spawn can name a registered agent, or another agent's
 * child, and reach its sessions or its agent-wide counts.
 */
export const SUB_AGENT_SEPARATOR = "!";
/** The longest a sub-agent's id may grow through nested spawns. */
export const MAX_SUB_AGENT_ID_LENGTH = 512;

export function subAgentId(parentAgent: string, name: string): string {
  return `${parentAgent}${SUB_AGENT_SEPARATOR}${name}`;
}

/** Whether `value` is the id of an agent that may act: a registered agent's, or a sub-agent's below one. */
export function isActingAgentId(value: string): boolean {
  return value.length <= MAX_SUB_AGENT_ID_LENGTH && value.split(SUB_AGENT_SEPARATOR).every((part) => AGENT_ID_PATTERN.test(part));
}

export const ROLE_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

const scope = z.string().min(1).max(128);

export const registrationSchema = z.strictObject({
  owner: z.string().trim().min(1).max(256),
  role: z.string().regex(ROLE_PATTERN, "roles are lowercase letters, digits, . _ -"),
  max_risk_tier: z.enum(RISK_TIERS),
  risk_tier: z.enum(RISK_TIERS).default("low"),
  certified_until: z.iso.datetime({ offset: true }).or(z.iso.date()),
  scopes: z.array(scope).max(64).default([]),
});

export type RegistrationInput = z.infer<typeof registrationSchema>;

export const keyRequestSchema = z.strictObject({
  label: z.string().trim().max(128).optional(),
  /** A key may carry fewer scopes than its agent's registration. */
  scopes: z.array(scope).max(64).optional(),
  expires_in_days: z.number().int().min(1).max(3650).optional(),
});

/** A certification date given as a day certifies through the end of that day (UTC). */
export function certifiedUntil(value: string): string {
  return /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T23:59:59.999Z` : new Date(value).toISOString();
}
