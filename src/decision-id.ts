/**
 * @module decision-id
 * Decision ids are UUIDv7: unique, and sortable by the time they were issued,
 * which keeps audit queries by time range cheap. The agent SDK makes its
 * offline decisions' ids the same way, prefixed `off-`.
 */
import { uuidV7 } from "../packages/agent/src/uuid-v7.ts";

export function newDecisionId(nowMs: number = Date.now()): string {
  return uuidV7(nowMs);
}
