/**
 * @module admin-auth
 * Scoped bearer tokens for the admin API. Tokens are never stored: the
 * ADMIN_TOKENS secret maps the sha256 (hex) of each token to a principal,
 *
 *   { "<sha256>": { "subject": "eu-compliance", "roles": ["publisher"], "scopes": ["region:eu"] } }
 *
 * Roles: publisher (bundles), operator (breakers, modes, refresh), approver
 * (approvals), auditor (audit records), agent_admin (the agent registry:
 * agents, their keys, the tenant's identity provider). Scopes: "global", "region:<r>",
 * "tenant:<t>", or "*" for everything. No or unknown token → 401; a known
 * token without the role or scope → 403.
 */
import type { Context, MiddlewareHandler } from "hono";
import { sha256Hex } from "../bundles/canonical";
import { ApiError } from "../errors";

export type AdminRole = "publisher" | "operator" | "approver" | "auditor" | "agent_admin";

export interface Principal {
  subject: string;
  roles: AdminRole[];
  scopes: string[];
}

export type AdminVariables = { principal: Principal };

let parsedTokens: { source: string; table: Record<string, Principal> } | undefined;

function tokenTable(raw: string | undefined): Record<string, Principal> {
  const source = raw ?? "{}";
  if (parsedTokens?.source !== source) {
    let table: Record<string, Principal>;
    try {
      table = JSON.parse(source) as Record<string, Principal>;
    } catch {
      // A malformed secret must not open the API; it closes it.
      table = {};
    }
    parsedTokens = { source, table };
  }
  return parsedTokens.table;
}

/** Authenticates the bearer token; every admin route sits behind this. */
export function adminAuth(): MiddlewareHandler<{ Bindings: Env; Variables: AdminVariables }> {
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new ApiError(401, "unauthenticated", "an admin bearer token is required");
    const principal = tokenTable((c.env as { ADMIN_TOKENS?: string }).ADMIN_TOKENS)[await sha256Hex(match[1])];
    if (!principal) throw new ApiError(401, "unauthenticated", "unknown admin token");
    c.set("principal", principal);
    await next();
  };
}

export function principalOf(c: Context<{ Bindings: Env; Variables: AdminVariables }>): Principal {
  return c.get("principal");
}

export function canAccessScope(principal: Principal, scope: string): boolean {
  return principal.scopes.includes("*") || principal.scopes.includes(scope);
}

export function canAccessTenant(principal: Principal, tenant: string): boolean {
  return canAccessScope(principal, `tenant:${tenant}`);
}

/** Throws 403 unless the principal holds the role (or one of the roles) and covers the scope. */
export function requireGrant(principal: Principal, role: AdminRole | AdminRole[], scope: string): void {
  const roles = Array.isArray(role) ? role : [role];
  if (!roles.some((r) => principal.roles.includes(r))) {
    throw new ApiError(403, "forbidden", `${principal.subject} lacks the ${roles.join(" or ")} role`);
  }
  if (!canAccessScope(principal, scope)) {
    throw new ApiError(403, "forbidden", `${principal.subject} may not act on ${scope}`);
  }
}
