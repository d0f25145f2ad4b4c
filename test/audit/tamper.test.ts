/**
 * Tamper evidence: an untouched log verifies clean, and each kind of
 * tampering with the records in R2 — modify, delete, insert, reorder — and
 * deleting a whole segment are reported at the right place.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { segmentKey } from "../../src/audit/chain";
import { verifyAuditLog, type ExportedSegment } from "../../src/audit/verify";
import { chainFor } from "../../src/audit/writer";
import { trustStoreFrom } from "../../src/bundles/trust";
import { TEST_TOKENS } from "../fixtures/test-config";
import { admin, uniqueId } from "../session/helpers";

const trust = trustStoreFrom(env.TRUST_STORE);

/** A shard with 30 records in three sealed segments of 10. */
async function sealedLog(): Promise<string> {
  const shard = uniqueId("tamper").replace(/[^a-z0-9-]/g, "-");
  const chain = chainFor(env, shard);
  for (let segment = 0; segment < 3; segment++) {
    const records = Array.from({ length: 10 }, (_, i) => ({ decision_id: `${shard}-${segment * 10 + i + 1}`, time: new Date().toISOString(), tenant: shard, decision: "allow", rules: [] as string[] }));
    await chain.append(records);
    await chain.seal();
  }
  return shard;
}

async function exported(shard: string): Promise<ExportedSegment[]> {
  const response = await admin(`/audit/export?tenant=${shard}`, TEST_TOKENS.operator);
  if (response.status !== 200) throw new Error(`export: ${response.status} ${await response.text()}`);
  return (await response.json<{ segments: ExportedSegment[] }>()).segments;
}

async function rewriteSegment(shard: string, segment: number, edit: (lines: string[]) => string[]): Promise<void> {
  const text = await (await env.AUDIT_LOG.get(segmentKey(shard, segment)))!.text();
  const lines = text.split("\n").filter((l) => l.length > 0);
  await env.AUDIT_LOG.put(segmentKey(shard, segment), edit(lines).join("\n") + "\n");
}

async function problemsOf(shard: string) {
  const report = await verifyAuditLog(shard, await exported(shard), trust);
  return report.problems.filter((p) => p.kind !== "segment_modified");
}

describe("tamper evidence", () => {
  it("an untouched log verifies clean", async () => {
    const shard = await sealedLog();
    const report = await verifyAuditLog(shard, await exported(shard), trust);
    expect(report).toMatchObject({ ok: true, segments: 3, entries: 30, problems: [] });
  });

  it("a modified record is reported by its sequence number", async () => {
    const shard = await sealedLog();
    await rewriteSegment(shard, 2, (lines) => lines.map((line) => (JSON.parse(line).seq === 14 ? line.replace('"decision":"allow"', '"decision":"deny"') : line)));
    const report = await verifyAuditLog(shard, await exported(shard), trust);
    expect(report.ok).toBe(false);
    expect(report.problems).toContainEqual(expect.objectContaining({ kind: "segment_modified", segment: 2 }));
    expect(await problemsOf(shard)).toEqual([expect.objectContaining({ kind: "modified", segment: 2, seq: 14 })]);
  });

  it("a deleted record", async () => {
    const shard = await sealedLog();
    await rewriteSegment(shard, 1, (lines) => lines.filter((line) => JSON.parse(line).seq !== 7));
    expect(await problemsOf(shard)).toEqual([expect.objectContaining({ kind: "deleted", segment: 1, seq: 7 })]);
  });

  it("an inserted record", async () => {
    const shard = await sealedLog();
    await rewriteSegment(shard, 3, (lines) => {
      const forged = JSON.parse(lines[4]);
      forged.record.decision_id = "forged";
      return [...lines.slice(0, 5), JSON.stringify(forged), ...lines.slice(5)];
    });
    const problems = await problemsOf(shard);
    expect(problems).toContainEqual(expect.objectContaining({ kind: "inserted", segment: 3, seq: 25 }));
    expect(problems.every((p) => p.segment === 3 && p.seq === 25)).toBe(true);
  });

  it("reordered records", async () => {
    const shard = await sealedLog();
    await rewriteSegment(shard, 2, (lines) => [...lines.slice(0, 2), lines[3], lines[2], ...lines.slice(4)]);
    expect(await problemsOf(shard)).toEqual([expect.objectContaining({ kind: "reordered", segment: 2, seq: 13 })]);
  });

  it("a deleted segment breaks the chain of signed digests", async () => {
    const shard = await sealedLog();
    const segments = await exported(shard);
    const report = await verifyAuditLog(shard, [segments[0], segments[2]], trust);
    expect(report.problems).toContainEqual(expect.objectContaining({ kind: "segment_missing", segment: 2 }));
  });

  it("a seal that cannot be signed keeps the records chained, counts the failure and seals once the key is back", async () => {
    const shard = uniqueId("unsealed").replace(/[^a-z0-9-]/g, "-");
    const chain = chainFor(env, shard);
    const records = (from: number) => Array.from({ length: 5 }, (_, i) => ({ decision_id: `${shard}-${from + i}`, time: new Date().toISOString(), tenant: shard, decision: "allow", rules: [] as string[] }));
    // A deployment missing its audit signing key: appends must still succeed.
    await runInDurableObject(chain, (instance) => {
      Object.assign(instance, { env: { ...env, AUDIT_SIGNING_KEY: "" } });
    });
    expect(await chain.append(records(1))).toEqual({ appended: 5, duplicates: 0, rejected: 0 });
    const stuck = await admin(`/audit/export?tenant=${shard}`, TEST_TOKENS.operator);
    expect(stuck.status).toBe(200);
    const body = await stuck.json<{ segments: unknown[]; pending: { unsealed: number; last_seal_error: string } }>();
    expect(body.segments).toEqual([]);
    expect(body.pending.unsealed).toBe(5);
    expect(body.pending.last_seal_error).toMatch(/AUDIT_SIGNING_KEY/);
    expect(await chain.stats()).toMatchObject({ entries: 5, unsealed: 5, seal_failures: 1 });

    await runInDurableObject(chain, (instance) => {
      Object.assign(instance, { env });
    });
    expect(await chain.append(records(6))).toEqual({ appended: 5, duplicates: 0, rejected: 0 });
    const report = await verifyAuditLog(shard, await exported(shard), trust);
    expect(report).toMatchObject({ ok: true, entries: 10 });
    expect(await chain.stats()).toMatchObject({ unsealed: 0, seal_failures: 1 });
    expect((await chain.stats()).last_seal_error).toBeUndefined();
  });

  it("sealed records past the retention leave the object but not the log: the chain goes on and verifies", async () => {
    const shard = uniqueId("retained").replace(/[^a-z0-9-]/g, "-");
    const chain = chainFor(env, shard);
    await runInDurableObject(chain, (instance) => {
      Object.assign(instance, { env: { ...env, AUDIT_RETENTION_DAYS: "0" } });
    });
    const records = (from: number) => Array.from({ length: 10 }, (_, i) => ({ decision_id: `${shard}-${from + i}`, time: new Date().toISOString(), tenant: shard, decision: "allow", rules: [] as string[] }));
    await chain.append(records(1));
    await chain.sealPending();
    // Everything sealed is forgotten but the head, which the next entry links to.
    expect((await chain.query({})).records.map((r) => r.seq)).toEqual([10]);
    await chain.append(records(11));
    await chain.sealPending();
    const report = await verifyAuditLog(shard, await exported(shard), trust);
    expect(report).toMatchObject({ ok: true, segments: 2, entries: 20 });
    expect((await chain.query({})).records.map((r) => r.seq)).toEqual([20]);
  });
});

