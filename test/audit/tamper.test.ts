/**
 * Tamper evidence: an untouched log verifies clean, and each kind of
 * tampering with the records in R2 — modify, delete, insert, reorder —,
 * deleting a whole segment, deleting the newest segments (with or without
 * the signed head) and corrupting an object are reported at the right place;
 * the export itself never fails on what it finds in R2.
 */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { digestKey, headKey, segmentKey } from "../../src/audit/chain";
import { verifyAuditLog, type ChainStatus, type ExportedHead, type ExportedSegment } from "../../src/audit/verify";
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

interface Export {
  head: ExportedHead;
  pending?: { unsealed: number; last_seal_error?: string };
  segments: ExportedSegment[];
  ended: boolean;
}

/** The export as the auditor's tool reads it: JSON lines, a head first and an end line last. */
async function exported(shard: string): Promise<Export> {
  const response = await admin(`/audit/export?tenant=${shard}`, TEST_TOKENS.operator);
  if (response.status !== 200) throw new Error(`export: ${response.status} ${await response.text()}`);
  expect(response.headers.get("content-type")).toMatch(/^application\/x-ndjson/);
  const lines = (await response.text()).split("\n").filter((line) => line.length > 0).map((line) => JSON.parse(line));
  const [head, ...rest] = lines;
  expect(head.type).toBe("head");
  return {
    head: { key: head.key, text: head.text },
    pending: head.pending,
    segments: rest.filter((line) => line.type === "segment"),
    ended: rest.at(-1)?.type === "end",
  };
}

/** What the chain object says it has sealed, as `tollgate audit verify` reads it from the status route. */
async function chainStatus(shard: string): Promise<ChainStatus> {
  const response = await admin(`/audit/status?tenant=${shard}`, TEST_TOKENS.operator);
  const { shard: stats } = await response.json<{ shard: { entries: number; unsealed: number; segments: number } }>();
  return { segments: stats.segments, sealed_entries: stats.entries - stats.unsealed };
}

async function rewriteSegment(shard: string, segment: number, edit: (lines: string[]) => string[]): Promise<void> {
  const text = await (await env.AUDIT_LOG.get(segmentKey(shard, segment)))!.text();
  const lines = text.split("\n").filter((l) => l.length > 0);
  await env.AUDIT_LOG.put(segmentKey(shard, segment), edit(lines).join("\n") + "\n");
}

async function problemsOf(shard: string) {
  const report = await verifyAuditLog(shard, await exported(shard), trust, await chainStatus(shard));
  return report.problems.filter((p) => p.kind !== "segment_modified");
}

describe("tamper evidence", () => {
  it("an untouched log verifies clean, to the record its signed head names", async () => {
    const shard = await sealedLog();
    const log = await exported(shard);
    expect(log.ended).toBe(true);
    const report = await verifyAuditLog(shard, log, trust, await chainStatus(shard));
    expect(report).toMatchObject({ ok: true, segments: 3, entries: 30, last_seq: 30, problems: [] });
  });

  it("a modified record is reported by its sequence number", async () => {
    const shard = await sealedLog();
    await rewriteSegment(shard, 2, (lines) => lines.map((line) => (JSON.parse(line).seq === 14 ? line.replace('"decision":"allow"', '"decision":"deny"') : line)));
    const report = await verifyAuditLog(shard, await exported(shard), trust, await chainStatus(shard));
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
    await env.AUDIT_LOG.delete([segmentKey(shard, 2), digestKey(shard, 2)]);
    const report = await verifyAuditLog(shard, await exported(shard), trust, await chainStatus(shard));
    expect(report.problems).toContainEqual(expect.objectContaining({ kind: "segment_missing", segment: 2 }));
    expect(report.problems).toContainEqual(expect.objectContaining({ kind: "deleted", seq: 11, message: "records 11–20 were deleted" }));
  });

  it("the newest segment deleted with its digest: the signed head still names it", async () => {
    const shard = await sealedLog();
    await env.AUDIT_LOG.delete([segmentKey(shard, 3), digestKey(shard, 3)]);
    // What is left is a whole chain of two segments; only its end gives it away.
    const report = await verifyAuditLog(shard, await exported(shard), trust);
    expect(report).toMatchObject({ ok: false, segments: 2, entries: 20 });
    expect(report.problems).toEqual([expect.objectContaining({ kind: "truncated", segment: 3, object: headKey(shard) })]);
    expect(report.problems[0].message).toContain("segment 3 and 30 record(s)");
  });

  it("the newest segment deleted with its digest and the head: the chain object's count gives it away", async () => {
    const shard = await sealedLog();
    await env.AUDIT_LOG.delete([segmentKey(shard, 3), digestKey(shard, 3), headKey(shard)]);
    const report = await verifyAuditLog(shard, await exported(shard), trust, await chainStatus(shard));
    expect(report.problems).toContainEqual(expect.objectContaining({ kind: "head_missing" }));
    expect(report.problems).toContainEqual(expect.objectContaining({ kind: "truncated", segment: 3 }));
  });

  it("the newest segment deleted and the head replaced by an older one, validly signed", async () => {
    const shard = await sealedLog();
    const olderHead = await (await env.AUDIT_LOG.get(headKey(shard)))!.text();
    const chain = chainFor(env, shard);
    const newest = { decision_id: `${shard}-31`, time: new Date().toISOString(), tenant: shard, decision: "deny", rules: ["refund_over_hard_cap"] };
    await chain.append([newest]);
    await chain.seal();
    await env.AUDIT_LOG.delete([segmentKey(shard, 4), digestKey(shard, 4)]);
    await env.AUDIT_LOG.put(headKey(shard), olderHead);
    const log = await exported(shard);
    // The replayed head verifies and matches what is left; the chain object has sealed one more.
    expect(await verifyAuditLog(shard, log, trust)).toMatchObject({ ok: true, entries: 30 });
    const report = await verifyAuditLog(shard, log, trust, await chainStatus(shard));
    expect(report.problems).toEqual([expect.objectContaining({ kind: "truncated", segment: 4 })]);
    expect(report.problems[0].message).toContain("4 segment(s), 31 record(s)");
  });

  it("every segment deleted: a log the head says holds 30 records is not an empty log", async () => {
    const shard = await sealedLog();
    await env.AUDIT_LOG.delete([1, 2, 3].flatMap((n) => [segmentKey(shard, n), digestKey(shard, n)]));
    const report = await verifyAuditLog(shard, await exported(shard), trust);
    expect(report).toMatchObject({ ok: false, segments: 0, entries: 0 });
    expect(report.problems).toEqual([expect.objectContaining({ kind: "truncated", segment: 1 })]);
  });

  it("a corrupt digest: the export still answers, and the report names the object", async () => {
    const shard = await sealedLog();
    await env.AUDIT_LOG.put(digestKey(shard, 2), '{"document": {"segment": 2, "first_seq"');
    const log = await exported(shard);
    expect(log.ended).toBe(true);
    const report = await verifyAuditLog(shard, log, trust, await chainStatus(shard));
    expect(report.ok).toBe(false);
    expect(report.problems).toContainEqual(expect.objectContaining({ kind: "corrupt_object", segment: 2, object: digestKey(shard, 2) }));
    // Its records are still checked one by one: none of them is reported.
    expect(report.problems.filter((p) => p.seq !== undefined)).toEqual([]);
  });

  it("a corrupt head and a segment line that is JSON but no entry are reported, not thrown", async () => {
    const shard = await sealedLog();
    await env.AUDIT_LOG.put(headKey(shard), "not json");
    await rewriteSegment(shard, 1, (lines) => [...lines.slice(0, 3), "null", "[]", ...lines.slice(3)]);
    const report = await verifyAuditLog(shard, await exported(shard), trust, await chainStatus(shard));
    expect(report.problems).toContainEqual(expect.objectContaining({ kind: "corrupt_object", object: headKey(shard) }));
    expect(report.problems.filter((p) => p.kind === "modified")).toEqual([
      expect.objectContaining({ segment: 1, message: "segment 1: a line is not a chain entry" }),
      expect.objectContaining({ segment: 1, message: "segment 1: a line is not a chain entry" }),
    ]);
  });

  it("a log of more than one R2 listing page (1,000 digests) is exported whole, a segment at a time", async () => {
    const shard = uniqueId("long").replace(/[^a-z0-9-]/g, "-");
    const chain = chainFor(env, shard);
    for (let n = 1; n <= 1001; n++) {
      await chain.append([{ decision_id: `${shard}-${n}`, time: new Date().toISOString(), tenant: shard }]);
      await chain.seal();
    }
    const log = await exported(shard);
    expect(log.ended).toBe(true);
    expect(log.segments.map((s) => s.segment)).toEqual(Array.from({ length: 1001 }, (_, i) => i + 1));
    expect(await verifyAuditLog(shard, log, trust, await chainStatus(shard))).toMatchObject({ ok: true, segments: 1001, entries: 1001 });
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
    const body = await exported(shard);
    expect(body.segments).toEqual([]);
    expect(body.pending!.unsealed).toBe(5);
    expect(body.pending!.last_seal_error).toMatch(/AUDIT_SIGNING_KEY/);
    expect(await chain.stats()).toMatchObject({ entries: 5, unsealed: 5, seal_failures: 1 });

    await runInDurableObject(chain, (instance) => {
      Object.assign(instance, { env });
    });
    expect(await chain.append(records(6))).toEqual({ appended: 5, duplicates: 0, rejected: 0 });
    const report = await verifyAuditLog(shard, await exported(shard), trust, await chainStatus(shard));
    expect(report).toMatchObject({ ok: true, entries: 10 });
    expect(await chain.stats()).toMatchObject({ unsealed: 0, seal_failures: 1 });
    expect((await chain.stats()).last_seal_error).toBeUndefined();
  });

  it("a seal that cannot be signed is not tried again on every batch: appends leave it to the alarm until it retries", async () => {
    const shard = uniqueId("unsealable").replace(/[^a-z0-9-]/g, "-");
    const chain = chainFor(env, shard);
    let n = 0;
    const batch = (size: number) => Array.from({ length: size }, () => ({ decision_id: `${shard}-${++n}`, time: new Date().toISOString(), tenant: shard, decision: "allow", rules: [] as string[] }));
    await runInDurableObject(chain, (instance) => {
      Object.assign(instance, { env: { ...env, AUDIT_SIGNING_KEY: "" } });
    });
    // A full segment's worth: the append that fills it tries to seal, and fails.
    expect(await chain.append(batch(500))).toEqual({ appended: 500, duplicates: 0, rejected: 0 });
    expect(await chain.stats()).toMatchObject({ unsealed: 500, seal_failures: 1 });
    // Twenty more batches: every record is chained, and no batch pays for another failed seal.
    for (let i = 0; i < 20; i++) expect(await chain.append(batch(5))).toEqual({ appended: 5, duplicates: 0, rejected: 0 });
    expect(await chain.stats()).toMatchObject({ entries: 600, unsealed: 600, seal_failures: 1 });
    // The alarm still retries (and an export asks too): with the key back, everything is sealed.
    await runInDurableObject(chain, (instance) => {
      Object.assign(instance, { env });
    });
    expect(await runDurableObjectAlarm(chain)).toBe(true);
    expect(await chain.stats()).toMatchObject({ unsealed: 0, seal_failures: 1 });
    expect(await verifyAuditLog(shard, await exported(shard), trust, await chainStatus(shard))).toMatchObject({ ok: true, entries: 600 });
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
    const report = await verifyAuditLog(shard, await exported(shard), trust, await chainStatus(shard));
    expect(report).toMatchObject({ ok: true, segments: 2, entries: 20 });
    expect((await chain.query({})).records.map((r) => r.seq)).toEqual([20]);
  });
});

