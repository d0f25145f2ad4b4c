/**
 * @module index
 * The Tollgate edge Worker: the Hono app (app.ts) that decides agent actions
 * against the active policy, the consumers of its two Queues (the audit log,
 * and alerts to tenants' webhooks), and the Durable Object classes the
 * deployment binds.
 */
import { consumeAlerts, ALERTS_QUEUE } from "./alerts/alerts-consumer";
import type { AlertMessage } from "./alerts/alert-event";
import { app } from "./app";
import { consumeAudit } from "./audit/consumer";
import type { AuditMessage } from "./audit/writer";

export default {
  fetch: app.fetch,
  queue: (batch: MessageBatch<AuditMessage | AlertMessage>, env: Env) =>
    batch.queue === ALERTS_QUEUE ? consumeAlerts(batch as MessageBatch<AlertMessage>, env) : consumeAudit(batch as MessageBatch<AuditMessage>, env),
} satisfies ExportedHandler<Env, AuditMessage | AlertMessage>;
export { AuditChainDO } from "./audit/chain-do";
export { SessionDO } from "./session/session-do";
export { AgentDO } from "./session/agent-do";
export { ApprovalsDO } from "./session/approvals-do";
export { BreakerIndexDO } from "./session/breaker-index-do";
export { AlertsDO } from "./alerts/alerts-do";
export { AgentRegistryDO } from "./identity/registry-do";
export { IssuerDirectoryDO } from "./identity/directory-do";
export { McpServersDO } from "./mcp/servers-do";
export { SnapshotWitnessDO } from "./bundles/snapshot-witness-do";
export { ConsoleSignOutsDO } from "./console/sign-outs-do";
