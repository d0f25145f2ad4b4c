/**
 * @module admin-auth
 * The admin API's one gate, mounted once at `/v1/admin/*`. Tokens are never
 * stored: the ADMIN_TOKENS secret maps the sha256 (hex) of each token to a
 * principal,
 *
 *   { "<sha256>": { "subject": "eu-compliance", "roles": ["publisher"], "scopes": ["region:eu"] } }
 *
 * Roles: publisher (bundles, shadows), operator (breakers, modes, refresh),
 * approver (approvals), auditor (audit records), agent_admin (the agent
 * registry: agents, their keys, the tenant's identity provider). Scopes:
 * "global", "region:<r>", "tenant:<t>", or "*" for everything.
 *
 * Each request is checked against the access table (routes/admin-access.ts):
 * no or unknown token → 401; a malformed parameter → 400; a token without
 * one of the route's roles or not covering its scope → 403; a route the
 * table does not name → 403. ADMIN_TOKENS is validated when it is read:
 * a malformed secret closes the admin API with 503 `misconfigured`, it never
 * grants anything.
 */
import type { Context, MiddlewareHandler } from "hono";
import { PatternRouter } from "hono/router/pattern-router";
import { sha256Hex } from "../bundles/canonical";
import { ApiError } from "../errors";
import { ownMember } from "../own-members";
import { tokenTableSchema, type AdminRole, type Principal } from "../schema/admin-principal";
import { ADMIN_ACCESS, type AccessRule } from "../routes/admin-access";
import { scopeParam, tenantParam } from "../routes/admin-params";

export type { AdminRole, Principal };
export type AdminVariables = { principal: Principal; access: AccessRule };

let parsedTokens: { source: string; table?: Record<string, Principal>; problem?: string } | undefined;

function tokenTable(raw: string | undefined): Record<string, Principal> {
  const source = raw ?? "{}";
  if (parsedTokens?.source !== source) {
    let parsed: ReturnType<typeof tokenTableSchema.safeParse> | undefined;
    try {
      parsed = tokenTableSchema.safeParse(JSON.parse(source));
    } catch {
      // handled below
    }
    const problem = !parsed ? "ADMIN_TOKENS is not JSON" : parsed.success ? undefined : `ADMIN_TOKENS: ${parsed.error.issues[0].path.join(".")}: ${parsed.error.issues[0].message}`;
    if (problem) console.error(`tollgate admin API closed: ${problem}`);
    parsedTokens = { source, table: parsed?.success ? parsed.data : undefined, problem };
  }
  if (!parsedTokens.table) throw new ApiError(503, "misconfigured", "the admin API is closed: its token configuration (ADMIN_TOKENS) is malformed");
  return parsedTokens.table;
}

const router = new PatternRouter<AccessRule>();
for (const rule of ADMIN_ACCESS) router.add(rule.method, rule.path, rule);

function ruleFor(method: string, path: string): { rule: AccessRule; params: Record<string, string> } | undefined {
  const [matches] = router.match(method, path) as unknown as [Array<[AccessRule, Record<string, string>]>];
  const found = matches[0];
  return found ? { rule: found[0], params: found[1] } : undefined;
}

function safelyDecoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // not a valid encoding: refused by the pattern check that follows
  }
}

/** The scope a request acts on, from its path or query, validated (400 when malformed). */
function scopeOf(rule: AccessRule, params: Record<string, string>, query: (name: string) => string | undefined): string | undefined {
  switch (rule.scope.kind) {
    case "global":
      return "global";
    case "listed":
      return undefined;
    case "scope_param":
      return scopeParam(safelyDecoded(params.scope ?? ""));
    case "tenant_param":
      return `tenant:${tenantParam(params.tenant)}`;
    case "tenant_query": {
      const tenant = query("tenant");
      if (tenant === undefined && rule.scope.otherwise === "global") return "global";
      return `tenant:${tenantParam(tenant)}`;
    }
  }
}

/**
 * The principal a token's sha256 (hex) names, or undefined. The console keeps
 * only this hash in its session cookie and looks the principal up on every
 * request, so a token taken out of ADMIN_TOKENS ends its console sessions too.
 */
export function principalForTokenHash(env: Env, hash: string): Principal | undefined {
  const table = tokenTable((env as { ADMIN_TOKENS?: string }).ADMIN_TOKENS);
  return ownMember(table, hash);
}

/**
 * Judges one admin API call for a principal against the access table, as
 * the gate does: the rule it falls under, or 400 (a malformed parameter) /
 * 403 (no rule, the wrong role, a scope not covered). The console asks this
 * for the admin call each of its pages and actions stands for, so it has no
 * access model of its own.
 */
export async function authorizeAdminCall(env: Env, principal: Principal, method: string, path: string, query: (name: string) => string | undefined): Promise<AccessRule> {
  const found = ruleFor(method, path);
  if (!found) throw new ApiError(403, "forbidden", `no admin route ${method} ${path} is open to tokens`);
  const scope = scopeOf(found.rule, found.params, query);
  try {
    requireGrant(principal, found.rule.roles, scope);
  } catch (error) {
    await found.rule.onRefusal?.(env, principal.subject, scope ?? "", (error as Error).message);
    throw error;
  }
  return found.rule;
}

/** Authenticates the bearer token and checks the access table; every admin route sits behind this. */
export function adminAuth(): MiddlewareHandler<{ Bindings: Env; Variables: AdminVariables }> {
  return async (c, next) => {
    tokenTable((c.env as { ADMIN_TOKENS?: string }).ADMIN_TOKENS);
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new ApiError(401, "unauthenticated", "an admin bearer token is required");
    const principal = principalForTokenHash(c.env, await sha256Hex(match[1]));
    if (!principal) throw new ApiError(401, "unauthenticated", "unknown admin token");
    const rule = await authorizeAdminCall(c.env, principal, c.req.method, c.req.path, (name) => c.req.query(name));
    c.set("principal", principal);
    c.set("access", rule);
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

/** Throws 403 unless the principal holds one of the roles and covers the scope (any scope, when undefined). */
export function requireGrant(principal: Principal, roles: AdminRole | AdminRole[], scope: string | undefined): void {
  const wanted = Array.isArray(roles) ? roles : [roles];
  if (!wanted.some((role) => principal.roles.includes(role))) {
    throw new ApiError(403, "forbidden", `${principal.subject} lacks the ${wanted.join(" or ")} role`);
  }
  if (scope !== undefined && !canAccessScope(principal, scope)) {
    throw new ApiError(403, "forbidden", `${principal.subject} may not act on ${scope}`);
  }
}
