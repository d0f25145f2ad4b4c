/**
 * @module @tollgate/agent
 * The agent's side of Tollgate: decisions before actions, tools that run
 * only when allowed, signed receipts anyone can verify, and decisions that
 * keep working within the policy's bounds when the edge cannot be reached.
 * Uses only `fetch` and WebCrypto: Node 20+, Deno, Bun, browsers, Workers.
 */
export { Tollgate, type Action, type CheckOptions, type GuardOptions, type TollgateEvent, type TollgateOptions } from "./client.ts";
export type { Decision, DecisionSource, Reason } from "./decision.ts";
export { ApprovalRequired, Denied, TollgateError, type WaitOptions } from "./errors.ts";
export { EdgeUnreachable, type Credential } from "./edge-transport.ts";
export { decodeReceipt, ReceiptError, verifyReceipt, RECEIPT_TYPE, type ReceiptClaims, type ReceiptKey, type VerifyOptions } from "./receipt.ts";
export { actionHash, canonicalJson } from "./canonical-json.ts";
export { MemorySpoolStore, type SpoolEntry, type SpoolStore } from "./spool.ts";
export { FileSpoolStore } from "./file-spool.ts";
export { IndexedDbSpoolStore } from "./indexeddb-spool.ts";
export type { OfflineRecord } from "./offline-record.ts";
export type { HeldPolicy, LocalPolicy } from "./local-policy.ts";
