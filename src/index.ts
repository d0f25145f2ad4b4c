/**
 * @module index
 * The Tollgate edge Worker: the Hono app (app.ts) that decides agent actions
 * against the active policy, the audit Queue's consumer, and the Durable
 * Object classes the deployment binds.
 */
import { app } from "./app";
import { consumeAudit } from "./audit/consumer";
import type { AuditMessage } from "./audit/writer";

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
export { McpServersDO } from "./mcp/servers-do";
