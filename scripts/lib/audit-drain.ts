/**
 * @module audit-drain
 * How far the audit log's backend has got: the records its chains hold for
 * a set of tenants, and a wait (untimed, between a benchmark's turns) until
 * they hold every record answered so far. A turn of an edge with the log on
 * leaves the Queue's consumer, the chain objects and R2 work to do after its
 * last answer; without the wait that work would fall on whichever target is
 * measured next.
 */
import { adminCall, type AdminTarget } from "./admin-client.ts";

interface AuditStatus {
  counters: Record<string, number>;
  shard?: { entries: number };
}

export function auditStatus(admin: AdminTarget, tenant: string): Promise<AuditStatus> {
  return adminCall<AuditStatus>(admin, "GET", `/audit/status?tenant=${encodeURIComponent(tenant)}`);
}

/** Records in the tenants' chains, in all. */
export async function chainedRecords(admin: AdminTarget, tenants: string[]): Promise<number> {
  let chained = 0;
  for (const tenant of tenants) chained += (await auditStatus(admin, tenant)).shard?.entries ?? 0;
  return chained;
}

/** Waits (up to `timeoutMs`) until the tenants' chains hold `expected` records; returns how many they hold. */
export async function waitUntilChained(admin: AdminTarget, tenants: string[], expected: number, timeoutMs = 15_000): Promise<number> {
  let chained = 0;
  for (let waited = 0; waited < timeoutMs; waited += 50) {
    chained = await chainedRecords(admin, tenants);
    if (chained >= expected) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return chained;
}
