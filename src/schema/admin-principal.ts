/**
 * @module admin-principal
 * What an admin token grants, as the ADMIN_TOKENS secret maps it: a
 * subject, its roles and the scopes they cover. One schema for the Worker,
 * which validates the secret when it reads it, and for `tollgate token
 * create`, which writes entries for it.
 */
import { z } from "zod";
import { SCOPE_PATTERN } from "../bundles/manifest.ts";

export const ADMIN_ROLES = ["publisher", "operator", "approver", "auditor", "agent_admin"] as const;
export type AdminRole = (typeof ADMIN_ROLES)[number];

export const principalSchema = z.strictObject({
  subject: z.string().min(1).max(256),
  roles: z.array(z.enum(ADMIN_ROLES)).min(1),
  scopes: z.array(z.string().refine((scope) => scope === "*" || SCOPE_PATTERN.test(scope), "a scope is *, global, region:<r> or tenant:<t>")).min(1),
});

export const tokenTableSchema = z.record(z.string().regex(/^[0-9a-f]{64}$/, "keys are the sha256 (hex) of a token"), principalSchema);

export type Principal = z.infer<typeof principalSchema>;
