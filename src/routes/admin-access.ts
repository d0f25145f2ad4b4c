/**
 * @module admin-access
 * Who may call which admin route, in one table: the roles that may, and
 * the scope the call acts on (a tenant from the path or query, a bundle
 * scope from the path, the deployment as a whole). The admin middleware
 * checks every request against it before any route runs; a route missing
 * from the table is refused, so a new route is closed until someone says
 * who may use it (a test checks that every admin route has an entry).
 *
 * Scopes: "global" (the deployment: refresh, status of every tenant), a
 * tenant (`tenant:<t>`), or a bundle scope (`global`, `region:<r>`,
 * `tenant:<t>`). `listed` routes show many scopes at once and keep only
 * what the token's scopes cover, so they need only the role.
 */
import type { AdminRole } from "../middleware/admin-auth";
import { recordPublishEvent } from "../bundles/publisher";

export type ScopeOf =
  | { kind: "global" }
  | { kind: "tenant_param" }
  | { kind: "tenant_query"; otherwise: "global" | "required" }
  | { kind: "scope_param" }
  | { kind: "listed" };

export interface AccessRule {
  method: "GET" | "PUT" | "POST" | "DELETE";
  path: string;
  roles: AdminRole[];
  scope: ScopeOf;
  /** Called when a token is refused here, before the 403 is answered (a publish refusal is recorded). */
  onRefusal?: (env: Env, actor: string, scope: string, reason: string) => Promise<void>;
}

const global: ScopeOf = { kind: "global" };
const tenant: ScopeOf = { kind: "tenant_param" };
const bundleScope: ScopeOf = { kind: "scope_param" };
const listed: ScopeOf = { kind: "listed" };
const REGISTRY_READERS: AdminRole[] = ["agent_admin", "operator", "auditor"];

export const ADMIN_ACCESS: AccessRule[] = [
  // The bundle store.
  {
    method: "PUT",
    path: "/v1/admin/bundles/:scope",
    roles: ["publisher"],
    scope: bundleScope,
    // Every refused publish is on the record, as every accepted one is.
    onRefusal: async (env, actor, scope, reason) => {
      if (env.BUNDLES) await recordPublishEvent(env.BUNDLES, actor, scope, Date.now(), { outcome: "refused", code: "forbidden", reason });
    },
  },
  { method: "GET", path: "/v1/admin/bundles", roles: ["publisher", "operator", "auditor"], scope: listed },
  { method: "GET", path: "/v1/admin/bundles/:scope/:version", roles: ["publisher", "operator", "auditor"], scope: bundleScope },
  { method: "GET", path: "/v1/admin/publish-log", roles: ["publisher", "operator", "auditor"], scope: listed },
  { method: "POST", path: "/v1/admin/refresh", roles: ["operator"], scope: global },
  // Rollouts: what a document may change is up to its signature; the token says who may hand it in.
  { method: "PUT", path: "/v1/admin/rollout/:scope", roles: ["operator", "publisher"], scope: bundleScope },
  { method: "GET", path: "/v1/admin/rollout/:scope", roles: ["operator", "publisher", "auditor"], scope: bundleScope },
  { method: "PUT", path: "/v1/admin/shadow/:scope", roles: ["publisher"], scope: bundleScope },
  { method: "GET", path: "/v1/admin/shadow/:scope/report", roles: ["publisher", "operator", "auditor"], scope: bundleScope },
  // The decision log.
  { method: "GET", path: "/v1/admin/audit/records", roles: ["auditor"], scope: { kind: "tenant_query", otherwise: "required" } },
  { method: "GET", path: "/v1/admin/audit/export", roles: ["auditor"], scope: { kind: "tenant_query", otherwise: "required" } },
  { method: "GET", path: "/v1/admin/audit/status", roles: ["auditor", "operator"], scope: { kind: "tenant_query", otherwise: "global" } },
  { method: "GET", path: "/v1/admin/insights/:tenant", roles: ["auditor"], scope: tenant },
  // Session state.
  { method: "GET", path: "/v1/admin/breakers/:tenant", roles: ["operator"], scope: tenant },
  { method: "GET", path: "/v1/admin/sessions/:tenant/:agent/:session", roles: ["operator"], scope: tenant },
  { method: "POST", path: "/v1/admin/sessions/:tenant/:agent/:session/breaker/reset", roles: ["operator"], scope: tenant },
  { method: "GET", path: "/v1/admin/agents/:tenant/:agent/breakers", roles: ["operator"], scope: tenant },
  { method: "POST", path: "/v1/admin/agents/:tenant/:agent/breaker/reset", roles: ["operator"], scope: tenant },
  // Approvals.
  { method: "GET", path: "/v1/admin/approvals/:tenant", roles: ["approver"], scope: tenant },
  { method: "GET", path: "/v1/admin/approvals/:tenant/:id", roles: ["approver"], scope: tenant },
  { method: "POST", path: "/v1/admin/approvals/:tenant/:id", roles: ["approver"], scope: tenant },
  // Alerts to the tenant's webhooks.
  { method: "GET", path: "/v1/admin/alerts/:tenant", roles: ["operator", "auditor"], scope: tenant },
  { method: "POST", path: "/v1/admin/alerts/:tenant/webhooks", roles: ["operator"], scope: tenant },
  { method: "DELETE", path: "/v1/admin/alerts/:tenant/webhooks/:id", roles: ["operator"], scope: tenant },
  // The agent registry.
  { method: "GET", path: "/v1/admin/registry/:tenant/agents", roles: REGISTRY_READERS, scope: tenant },
  { method: "GET", path: "/v1/admin/registry/:tenant/agents/:agent", roles: REGISTRY_READERS, scope: tenant },
  { method: "PUT", path: "/v1/admin/registry/:tenant/agents/:agent", roles: ["agent_admin"], scope: tenant },
  { method: "DELETE", path: "/v1/admin/registry/:tenant/agents/:agent", roles: ["agent_admin"], scope: tenant },
  { method: "POST", path: "/v1/admin/registry/:tenant/agents/:agent/keys", roles: ["agent_admin"], scope: tenant },
  { method: "DELETE", path: "/v1/admin/registry/:tenant/keys/:key", roles: ["agent_admin"], scope: tenant },
  { method: "GET", path: "/v1/admin/registry/:tenant/provider", roles: REGISTRY_READERS, scope: tenant },
  { method: "PUT", path: "/v1/admin/registry/:tenant/provider", roles: ["agent_admin"], scope: tenant },
  { method: "DELETE", path: "/v1/admin/registry/:tenant/provider", roles: ["agent_admin"], scope: tenant },
  { method: "GET", path: "/v1/admin/registry/:tenant/changes", roles: REGISTRY_READERS, scope: tenant },
  // Upstream MCP servers: the tools a tenant's agents reach through the gateway, and their credentials.
  { method: "GET", path: "/v1/admin/mcp/:tenant/servers", roles: REGISTRY_READERS, scope: tenant },
  { method: "GET", path: "/v1/admin/mcp/:tenant/servers/:server", roles: REGISTRY_READERS, scope: tenant },
  { method: "PUT", path: "/v1/admin/mcp/:tenant/servers/:server", roles: ["agent_admin"], scope: tenant },
  { method: "DELETE", path: "/v1/admin/mcp/:tenant/servers/:server", roles: ["agent_admin"], scope: tenant },
  { method: "GET", path: "/v1/admin/mcp/:tenant/changes", roles: REGISTRY_READERS, scope: tenant },
];
