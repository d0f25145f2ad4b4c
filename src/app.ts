/**
 * @module app
 * The edge's HTTP surface: every route, the one gate in front of the admin
 * API, and the one place errors become `{error: {code, message}}`. Routes
 * live in routes/, one per concern; the AuthZEN API lives in authzen/ and
 * answers errors in its spec's shape.
 */
import { Hono } from "hono";
import { accessRoute } from "./authzen/access-api";
import { pdpMetadataRoute } from "./authzen/pdp-metadata";
import { errorResponse } from "./errors";
import { consoleApp, consoleErrorPage } from "./console/console-app";
import { adminAuth } from "./middleware/admin-auth";
import { AGENT_ROUTES, agentCors } from "./middleware/agent-cors";
import { adminAlertsRoute } from "./routes/admin-alerts";
import { adminAuditRoute } from "./routes/admin-audit";
import { adminInsightsRoute } from "./routes/admin-insights";
import { adminBundlesRoute } from "./routes/admin-bundles";
import { adminRegistryRoute } from "./routes/admin-registry";
import { adminRolloutRoute } from "./routes/admin-rollout";
import { adminSessionsRoute } from "./routes/admin-sessions";
import { adminApprovalsRoute, approvalsRoute } from "./routes/approvals";
import { decideRoute } from "./routes/decide";
import { healthRoute } from "./routes/health";
import { leasesRoute } from "./routes/leases";
import { offlineDecisionsRoute } from "./routes/offline-decisions";
import { policyRoute } from "./routes/policy";
import { adminMcpRoute } from "./routes/admin-mcp";
import { sessionDataClassesRoute } from "./routes/session-data-classes";
import { agentDataClassesRoute } from "./routes/agent-data-classes";
import { gatewayRoute } from "./mcp/gateway-route";
import { resourceMetadataRoute } from "./mcp/resource-metadata";
import { wellKnownKeysRoute } from "./routes/well-known-keys";

export const app = new Hono<{ Bindings: Env }>();

// One gate for the whole admin API: token, role and scope, from one table (routes/admin-access.ts).
app.use("/v1/admin/*", adminAuth());
// Agents may run in browser pages; their routes answer any origin (bearer tokens, no cookies).
for (const path of AGENT_ROUTES) app.use(path, agentCors());

app.route("/v1/decide", decideRoute);
app.route("/v1/policy", policyRoute);
app.route("/healthz", healthRoute);
app.route("/.well-known", wellKnownKeysRoute);
app.route("/v1/approvals", approvalsRoute);
app.route("/v1/leases", leasesRoute);
app.route("/v1/offline", offlineDecisionsRoute);
// AuthZEN Authorization API 1.0: its own error shape, set on its routes (authzen/error-response.ts).
app.route("/access/v1", accessRoute);
app.route("/.well-known/authzen-configuration", pdpMetadataRoute);
app.route("/v1/admin", adminBundlesRoute);
app.route("/v1/admin", adminSessionsRoute);
app.route("/v1/admin", adminApprovalsRoute);
app.route("/v1/admin", adminAuditRoute);
app.route("/v1/admin", adminInsightsRoute);
app.route("/v1/admin", adminAlertsRoute);
app.route("/v1/admin", adminRolloutRoute);
app.route("/v1/admin", adminRegistryRoute);
app.route("/v1/admin", adminMcpRoute);
app.route("/v1/sessions", sessionDataClassesRoute);
app.route("/v1/agent", agentDataClassesRoute);
// The MCP gateway: one Streamable HTTP endpoint per upstream, and its RFC 9728 metadata.
app.route("/mcp", gatewayRoute);
app.route("/.well-known/oauth-protected-resource", resourceMetadataRoute);
app.route("/console", consoleApp);

app.notFound((c) => c.json({ error: { code: "not_found", message: `no route for ${c.req.method} ${c.req.path}` } }, 404));
// People read the console's errors as pages; programs read everything else's as JSON.
app.onError((error, c) => (c.req.path === "/console" || c.req.path.startsWith("/console/") ? consoleErrorPage(c, error) : errorResponse(c, error)));

