/**
 * @module index
 * The Tollgate edge Worker: a Hono app that decides agent actions against the
 * active policy. Routes live in routes/, one per concern; every error becomes
 * `{error: {code, message}}` here.
 */
import { Hono } from "hono";
import { consumeAudit } from "./audit/consumer";
import type { AuditMessage } from "./audit/writer";
import { errorResponse } from "./errors";
import { adminAuditRoute } from "./routes/admin-audit";
import { adminBundlesRoute } from "./routes/admin-bundles";
import { adminRegistryRoute } from "./routes/admin-registry";
import { adminRolloutRoute } from "./routes/admin-rollout";
import { adminSessionsRoute } from "./routes/admin-sessions";
import { adminApprovalsRoute, approvalsRoute } from "./routes/approvals";
import { decideRoute } from "./routes/decide";
import { healthRoute } from "./routes/health";
import { policyRoute } from "./routes/policy";

const app = new Hono<{ Bindings: Env }>();

app.route("/v1/decide", decideRoute);
app.route("/v1/policy", policyRoute);
app.route("/healthz", healthRoute);
app.route("/v1/approvals", approvalsRoute);
app.route("/v1/admin", adminBundlesRoute);
app.route("/v1/admin", adminSessionsRoute);
app.route("/v1/admin", adminApprovalsRoute);
app.route("/v1/admin", adminAuditRoute);
app.route("/v1/admin", adminRolloutRoute);
app.route("/v1/admin", adminRegistryRoute);

app.notFound((c) => c.json({ error: { code: "not_found", message: `no route for ${c.req.method} ${c.req.path}` } }, 404));
app.onError((error, c) => errorResponse(c, error));

export default {
  fetch: app.fetch,
  queue: (batch: MessageBatch<AuditMessage>, env: Env) => consumeAudit(batch, env),
} satisfies ExportedHandler<Env, AuditMessage>;
export { AuditChainDO } from "./audit/chain-do";
export { SessionDO } from "./session/session-do";
export { AgentDO } from "./session/agent-do";
export { ApprovalsDO } from "./session/approvals-do";
export { AgentRegistryDO } from "./identity/registry-do";
export { IssuerDirectoryDO } from "./identity/directory-do";
