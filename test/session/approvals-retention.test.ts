/**
 * The tenant's approvals index stays bounded: its alarm drops copies of
 * approvals that were used, rejected or expired longer ago than the
 * retention (30 days), and never one that is still pending or approved and
 * unused, however old: those are still somebody's work.
 */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { approvalsIndex } from "../../src/session/objects";
import type { ApprovalRecord, ApprovalStatus } from "../../src/session/types";
import { uniqueId } from "./helpers";

const DAY_MS = 86_400_000;

function copy(tenant: string, name: string, status: ApprovalStatus, daysAgo: { created: number; expires: number; decided?: number; used?: number }): ApprovalRecord {
  const at = (days: number | undefined) => (days === undefined ? null : new Date(Date.now() - days * DAY_MS).toISOString());
  return {
    id: `apr_${"ab".repeat(32)}_${name.padEnd(24, "0")}`,
    tenant,
    session_id: "s-1",
    agent_id: "agent-7",
    action_hash: "0".repeat(64),
    action_summary: "{}",
    status,
    created_at: at(daysAgo.created)!,
    expires_at: at(daysAgo.expires)!,
    decided_by: daysAgo.decided === undefined ? null : "acme-finance-lead",
    decided_at: at(daysAgo.decided),
    reason: null,
    used_by: daysAgo.used === undefined ? null : "d-1",
    used_at: at(daysAgo.used),
    version: 3,
  };
}

describe("the approvals index", () => {
  it("forgets used, rejected and expired approvals past the retention, and never a pending one", async () => {
    const tenant = uniqueId("retention").replace(/[^a-z0-9-]/g, "-");
    const index = approvalsIndex(env, tenant);
    const copies = [
      copy(tenant, "0a", "used", { created: 41, expires: 40, decided: 41, used: 40 }),
      copy(tenant, "0b", "rejected", { created: 41, expires: 40, decided: 40 }),
      copy(tenant, "0c", "expired", { created: 41, expires: 40 }),
      copy(tenant, "1a", "pending", { created: 90, expires: 89 }),
      copy(tenant, "1b", "approved", { created: 90, expires: 89, decided: 90 }),
      copy(tenant, "1c", "used", { created: 41, expires: 40, decided: 41, used: 29 }),
      copy(tenant, "1d", "expired", { created: 2, expires: 1 }),
    ];
    await index.upsert(copies);
    expect(await index.list(undefined, Date.now())).toHaveLength(7);

    // The upsert scheduled the index's alarm; firing it prunes.
    expect(await runDurableObjectAlarm(index)).toBe(true);
    const kept = (await index.list(undefined, Date.now())).map((r) => r.id.slice(-24, -22)).sort();
    expect(kept).toEqual(["1a", "1b", "1c", "1d"]);

    // While it holds anything, the alarm comes back.
    expect(await runDurableObjectAlarm(index)).toBe(true);
    expect(await index.list(undefined, Date.now())).toHaveLength(4);
  });
});
