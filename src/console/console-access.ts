/**
 * @module console-access
 * The console has no access model of its own. Each of its routes names the
 * admin API call that shows the same data or makes the same change, and a
 * request is let through only when the admin gate's table
 * (routes/admin-access.ts) would let the signed-in principal make that
 * call: same roles, same tenant or bundle scope, same 400 for a malformed
 * tenant. A route that shows nothing of any tenant (the home page) needs a
 * sign-in only; a route missing from this table is refused (a test checks
 * every console route has an entry).
 */
import type { MiddlewareHandler } from "hono";
import { PatternRouter } from "hono/router/pattern-router";
import { ApiError } from "../errors";
import { authorizeAdminCall } from "../middleware/admin-auth";
import type { ConsoleSession } from "./console-session";

export interface ConsoleRule {
  method: "GET" | "POST";
  path: string;
  /**
   * The admin call this route stands for; null: any signed-in principal (it
   * shows no tenant's data). `tenantQuery`: the admin call takes the tenant
   * as `?tenant=`, which the console route has in its path.
   */
  admin: { method: "GET" | "PUT" | "POST" | "DELETE"; path: string; tenantQuery?: true } | null;
}

const signedIn = null;

export const CONSOLE_ACCESS: ConsoleRule[] = [
  { method: "GET", path: "/console", admin: signedIn },
  { method: "POST", path: "/console/sign-out", admin: signedIn },
  // Approvals.
  { method: "GET", path: "/console/approvals", admin: signedIn },
  { method: "GET", path: "/console/approvals/:tenant", admin: { method: "GET", path: "/v1/admin/approvals/:tenant" } },
  { method: "GET", path: "/console/approvals/:tenant/live", admin: { method: "GET", path: "/v1/admin/approvals/:tenant" } },
  { method: "GET", path: "/console/approvals/:tenant/:id", admin: { method: "GET", path: "/v1/admin/approvals/:tenant/:id" } },
  { method: "POST", path: "/console/approvals/:tenant/:id", admin: { method: "POST", path: "/v1/admin/approvals/:tenant/:id" } },
  // The decision log.
  { method: "GET", path: "/console/decisions", admin: signedIn },
  { method: "GET", path: "/console/decisions/:tenant", admin: { method: "GET", path: "/v1/admin/audit/records", tenantQuery: true } },
  { method: "GET", path: "/console/decisions/:tenant/:id", admin: { method: "GET", path: "/v1/admin/audit/records", tenantQuery: true } },
  // Insights.
  { method: "GET", path: "/console/insights", admin: signedIn },
  { method: "GET", path: "/console/insights/:tenant", admin: { method: "GET", path: "/v1/admin/insights/:tenant" } },
  // Policy.
  { method: "GET", path: "/console/policy", admin: { method: "GET", path: "/v1/admin/bundles" } },
  { method: "GET", path: "/console/policy/:scope", admin: { method: "GET", path: "/v1/admin/rollout/:scope" } },
  // Sessions and breakers.
  { method: "GET", path: "/console/sessions", admin: signedIn },
  { method: "GET", path: "/console/sessions/:tenant", admin: { method: "GET", path: "/v1/admin/breakers/:tenant" } },
  { method: "GET", path: "/console/sessions/:tenant/:agent/:session", admin: { method: "GET", path: "/v1/admin/sessions/:tenant/:agent/:session" } },
  { method: "POST", path: "/console/sessions/:tenant/:agent/:session/breaker/reset", admin: { method: "POST", path: "/v1/admin/sessions/:tenant/:agent/:session/breaker/reset" } },
  { method: "POST", path: "/console/agent-breakers/:tenant/:agent/reset", admin: { method: "POST", path: "/v1/admin/agents/:tenant/:agent/breaker/reset" } },
  // Alerts.
  { method: "GET", path: "/console/alerts", admin: signedIn },
  { method: "GET", path: "/console/alerts/:tenant", admin: { method: "GET", path: "/v1/admin/alerts/:tenant" } },
  { method: "POST", path: "/console/alerts/:tenant/webhooks", admin: { method: "POST", path: "/v1/admin/alerts/:tenant/webhooks" } },
  { method: "POST", path: "/console/alerts/:tenant/webhooks/:id/delete", admin: { method: "DELETE", path: "/v1/admin/alerts/:tenant/webhooks/:id" } },
  // The agent registry.
  { method: "GET", path: "/console/registry", admin: signedIn },
  { method: "GET", path: "/console/registry/:tenant", admin: { method: "GET", path: "/v1/admin/registry/:tenant/agents" } },
  { method: "POST", path: "/console/registry/:tenant/keys/:key/revoke", admin: { method: "DELETE", path: "/v1/admin/registry/:tenant/keys/:key" } },
];

export type ConsoleVariables = { session: ConsoleSession; consoleRule: ConsoleRule };

const router = new PatternRouter<ConsoleRule>();
for (const rule of CONSOLE_ACCESS) router.add(rule.method, rule.path, rule);

export function consoleRuleFor(method: string, path: string): { rule: ConsoleRule; params: Record<string, string> } | undefined {
  const [matches] = router.match(method, path) as unknown as [Array<[ConsoleRule, Record<string, string>]>];
  const found = matches[0];
  return found ? { rule: found[0], params: found[1] } : undefined;
}

/** The admin path a console route stands for, with this request's parameters in it (as they came, still encoded). */
export function adminPathOf(rule: ConsoleRule, params: Record<string, string>): string | undefined {
  return rule.admin?.path.replace(/:(\w+)/g, (_, name: string) => params[name] ?? "");
}

/**
 * Runs after the session is established: finds the route's rule and asks
 * the admin gate whether the principal may make the call it stands for.
 */
export function consoleAccess(): MiddlewareHandler<{ Bindings: Env; Variables: ConsoleVariables }> {
  return async (c, next) => {
    const method = c.req.method === "HEAD" ? "GET" : c.req.method;
    const found = consoleRuleFor(method, c.req.path);
    if (!found) throw new ApiError(404, "not_found", `the console has no page ${c.req.path}`);
    const adminPath = adminPathOf(found.rule, found.params);
    if (found.rule.admin && adminPath) {
      const fromPath = found.rule.admin.tenantQuery ? found.params.tenant : undefined;
      await authorizeAdminCall(c.env, c.get("session").principal, found.rule.admin.method, adminPath, (name) => (name === "tenant" && fromPath !== undefined ? fromPath : c.req.query(name)));
    }
    c.set("consoleRule", found.rule);
    await next();
  };
}
