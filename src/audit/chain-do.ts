/**
 * @module chain-do
 * One Durable Object per audit shard (a tenant): the only writer of that
 * shard's hash chain, so the chain can never fork. Appends are idempotent by
 * decision id and run synchronously against SQLite (node:crypto hashes
 * synchronously), so a batch is either appended whole or not at all, and a
 * redelivered batch adds nothing twice. Entries are sealed into R2 segments
 * with a signed digest when a segment fills up, and by an alarm otherwise;
 * each seal also rewrites the chain's signed head (the newest digest and the
 * entry count), so deleting the newest segments from R2 does not go unseen.
 * The object also answers queries and keeps the log's loss counters.
 */
import { DurableObject } from "cloudflare:workers";
import { createHash } from "node:crypto";
import { canonicalJson } from "../bundles/canonical";
import { signDocument } from "../bundles/signature";
import { migrate } from "../session/migrations";
import { countLoss } from "./writer";
import { digestHash, digestKey, entryLine, entryPreimage, genesisHash, headKey, segmentKey, type ChainHead, type ChainRecord, type SegmentDigest } from "./chain";

const SEGMENT_MAX_ENTRIES = 500;
const FLUSH_AFTER_MS = 10_000;
/** After a failed seal the entries stay in SQLite, chained; the alarm tries again this much later. */
const SEAL_RETRY_MS = 60_000;
const DAY_MS = 86_400_000;

const MIGRATIONS = [
  [
    "CREATE TABLE entries (seq INTEGER PRIMARY KEY, decision_id TEXT NOT NULL UNIQUE, at_ms INTEGER NOT NULL, agent TEXT, session TEXT, rules TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL, record TEXT NOT NULL, segment INTEGER)",
    "CREATE INDEX entries_unsealed ON entries (segment, seq)",
    "CREATE TABLE segments (segment INTEGER PRIMARY KEY, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, digest_sha256 TEXT NOT NULL)",
    "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
  ],
  // Sealing is tracked by the last segment's last_seq (sequence numbers have no gaps),
  // so an entry is written once and never updated; sealed_ms dates what retention may drop.
  ["DROP INDEX entries_unsealed", "ALTER TABLE entries DROP COLUMN segment", "ALTER TABLE segments ADD COLUMN sealed_ms INTEGER"],
];

export interface AuditQuery {
  decision_id?: string;
  /** The outcome: allow, deny or require_approval (in observe mode, the real one). */
  decision?: string;
  session?: string;
  agent?: string;
  rule?: string;
  from_ms?: number;
  to_ms?: number;
  /** Paging: only entries after this sequence number. */
  after_seq?: number;
  /** Paging newest first: only entries before this sequence number. */
  before_seq?: number;
  /** Newest first (the console's search); oldest first otherwise (exports, the CLI). */
  newest_first?: boolean;
  limit?: number;
}

export interface ChainInsights {
  by_bucket: Array<{ bucket: number; outcome: string; n: number }>;
  top_deny_rules: Array<{ rule: string; n: number }>;
  top_denied_agents: Array<{ agent: string; n: number }>;
  top_approval_agents: Array<{ agent: string; n: number }>;
  /** The oldest record the object still holds: insights reach no further back. */
  oldest_held_ms: number | null;
}

/** Where an entry sits in the chain: its neighbours' link and the segment that sealed it, if any. */
export interface ChainPlace {
  seq: number;
  prev_hash: string;
  hash: string;
  /** Entries chained so far. */
  head_seq: number;
  segment: { segment: number; first_seq: number; last_seq: number; digest_sha256: string; sealed_at: string | null } | null;
}

/** One page of a query: `next_after_seq` is set when more entries may match. */
export interface AuditPage {
  /** Each record as appended, with its place in the chain. */
  records: Array<ChainRecord & { seq: number; hash: string }>;
  next_after_seq?: number;
}

const sha256 = (text: string) => `sha256:${createHash("sha256").update(text).digest("hex")}`;

export class AuditChainDO extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private sealing: Promise<number> | undefined;
  /** The chain's head and how far it is sealed, read once and kept current by append and seal. */
  private head!: { seq: number; hash: string };
  private sealedThrough = 0;
  /** Until when appends leave sealing to the alarm, after a seal failed (0: they seal as segments fill). */
  private sealRetryAt = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => {
      migrate(this.sql, MIGRATIONS);
      const last = this.sql.exec<{ seq: number; hash: string }>("SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1").toArray()[0];
      this.head = last ?? { seq: 0, hash: genesisHash(this.shard()) };
      this.sealedThrough = this.sql.exec<{ last_seq: number }>("SELECT last_seq FROM segments ORDER BY segment DESC LIMIT 1").toArray()[0]?.last_seq ?? 0;
    });
  }

  private shard(): string {
    return this.ctx.id.name ?? this.ctx.id.toString();
  }

  /**
   * Appends records in order; returns how many were new. Synchronous, so a
   * batch is all-or-nothing, except that a record that cannot be chained at
   * all (no canonical form: a cycle, nesting past the stack) is left out and
   * counted as lost, so it never costs its batch-mates their place.
   */
  async append(records: ChainRecord[]): Promise<{ appended: number; duplicates: number; rejected: number }> {
    const texts: Array<{ record: ChainRecord; text: string }> = [];
    let rejected = 0;
    for (const record of records) {
      try {
        if (typeof record?.decision_id !== "string") throw new Error("no decision_id");
        // Chained as JSON carries it, as a Queue message would: a record appended by RPC may hold what JSON
        // has no text for (undefined in an array, from a policy's reason without a rule), which canonical
        // JSON leaves out, leaving a line no query, export or verifier could read back.
        texts.push({ record, text: canonicalJson(JSON.parse(JSON.stringify(record))) });
      } catch (error) {
        rejected++;
        console.error(`audit: a record for ${this.shard()} cannot be chained and is lost: ${(error as Error).message}`);
      }
    }
    if (rejected > 0) await countLoss(this.env, "records_lost", rejected);
    let duplicates = 0;
    let conflicting = 0;
    let { seq, hash: prevHash } = this.head;
    this.ctx.storage.transactionSync(() => {
      for (const { record, text } of texts) {
        const hash = sha256(entryPreimage(seq + 1, prevHash, text));
        // Space-delimited so a query by rule can match a whole rule id with LIKE.
        const rules = Array.isArray(record.rules) ? ` ${record.rules.join(" ")} ` : " ";
        const written = this.sql.exec(
          "INSERT INTO entries (seq, decision_id, at_ms, agent, session, rules, prev_hash, hash, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (decision_id) DO NOTHING",
          seq + 1,
          record.decision_id,
          Date.parse(record.time) || Date.now(),
          String(record.agent ?? ""),
          String(record.session ?? ""),
          rules,
          prevHash,
          hash,
          text,
        ).rowsWritten;
        // Already chained (a redelivered record): the chain does not move. A record that says something
        // else under a decision id already chained is not a copy: it cannot be chained too (an id is one
        // decision), and it is counted, so that no record is left out unseen.
        if (written === 0) {
          duplicates++;
          const held = this.sql.exec<{ record: string }>("SELECT record FROM entries WHERE decision_id = ?", record.decision_id).toArray()[0];
          if (held?.record !== text) conflicting++;
          continue;
        }
        seq++;
        prevHash = hash;
      }
    });
    const appended = seq - this.head.seq;
    this.head = { seq, hash: prevHash };
    if (conflicting > 0) {
      console.error(`audit: ${conflicting} record(s) for ${this.shard()} name a decision id already chained with other content, and are not chained`);
      await countLoss(this.env, "records_conflicting", conflicting);
    }
    // The batch is durable and chained now; sealing is a later step whose failure must not
    // fail the append (the queue would redeliver a batch that is already in).
    if (this.unsealedCount() >= SEGMENT_MAX_ENTRIES && Date.now() >= this.sealRetryAt) await this.trySeal();
    else if (this.unsealedCount() > 0 && (await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + FLUSH_AFTER_MS);
    return { appended, duplicates, rejected };
  }

  private unsealedCount(): number {
    return this.head.seq - this.sealedThrough;
  }

  /** Seals until nothing is pending; a failure is counted, kept for status, and retried by the alarm. */
  private async trySeal(): Promise<void> {
    try {
      while ((await this.seal()) > 0);
      this.sealRetryAt = 0;
      await this.ctx.storage.delete("last_seal_error");
      await this.forgetSealed();
    } catch (error) {
      // Appends leave it to the alarm from now on: a seal that cannot be signed (a deployment without its
      // key) would otherwise be tried again, reading a whole segment's entries, on every batch.
      this.sealRetryAt = Date.now() + SEAL_RETRY_MS;
      await this.count("seal_failures");
      await this.ctx.storage.put("last_seal_error", error instanceof Error ? error.message : String(error));
      await this.ctx.storage.setAlarm(Date.now() + SEAL_RETRY_MS);
    }
  }

  /** Writes the unsealed entries as the next segment, with its signed digest. Single flight. */
  seal(): Promise<number> {
    this.sealing ??= this.sealNow().finally(() => {
      this.sealing = undefined;
    });
    return this.sealing;
  }

  private async sealNow(): Promise<number> {
    const rows = this.sql
      .exec<{ seq: number; prev_hash: string; hash: string; record: string }>("SELECT seq, prev_hash, hash, record FROM entries WHERE seq > ? ORDER BY seq LIMIT ?", this.sealedThrough, SEGMENT_MAX_ENTRIES)
      .toArray();
    if (rows.length === 0) return 0;
    const shard = this.shard();
    const previous = this.sql.exec<{ segment: number; digest_sha256: string }>("SELECT segment, digest_sha256 FROM segments ORDER BY segment DESC LIMIT 1").toArray()[0];
    const segment = (previous?.segment ?? 0) + 1;
    const text = rows.map((row) => entryLine(row.seq, row.prev_hash, row.hash, row.record)).join("\n") + "\n";
    const keyId = this.env.AUDIT_KEY_ID;
    if (!keyId || !this.env.AUDIT_SIGNING_KEY) throw new Error("audit segments cannot be sealed: AUDIT_KEY_ID and AUDIT_SIGNING_KEY are not configured");
    const digest: SegmentDigest = {
      shard,
      segment,
      first_seq: rows[0].seq,
      last_seq: rows[rows.length - 1].seq,
      count: rows.length,
      segment_sha256: sha256(text).slice(7),
      last_hash: rows[rows.length - 1].hash,
      prev_digest_sha256: previous?.digest_sha256 ?? genesisHash(shard),
      created: new Date().toISOString(),
      key_id: keyId,
    };
    const signingKey = JSON.parse(this.env.AUDIT_SIGNING_KEY) as JsonWebKey;
    const signature = await signDocument(digest, signingKey);
    const sealed = await digestHash(digest);
    const head: ChainHead = { kind: "audit_head", shard, segment, digest_sha256: sealed, entries: digest.last_seq, created: digest.created, key_id: keyId };
    const headSignature = await signDocument(head, signingKey);
    // Segment, digest, then head: a head never names a digest that is not written yet. If any
    // write fails, nothing is recorded here and the same segment is sealed again on retry.
    await this.env.AUDIT_LOG.put(segmentKey(shard, segment), text);
    await this.env.AUDIT_LOG.put(digestKey(shard, segment), JSON.stringify({ document: digest, signature }));
    await this.env.AUDIT_LOG.put(headKey(shard), JSON.stringify({ document: head, signature: headSignature }));
    this.sql.exec("INSERT INTO segments (segment, first_seq, last_seq, digest_sha256, sealed_ms) VALUES (?, ?, ?, ?, ?)", segment, digest.first_seq, digest.last_seq, sealed, Date.now());
    this.sealedThrough = digest.last_seq;
    return rows.length;
  }

  /**
   * Drops entries of segments sealed longer ago than the retention from the
   * object's SQLite: they stay in R2, signed. Never an unsealed entry, never the head (the
   * next append links to it).
   */
  private async forgetSealed(): Promise<void> {
    const days = Number(this.env.AUDIT_RETENTION_DAYS);
    if (!Number.isFinite(days) || days < 0) return;
    const cutoff = Date.now() - days * DAY_MS;
    // Walk segments in order from the last one forgotten: a primary-key range, no scan by time.
    const from = (await this.ctx.storage.get<number>("forgotten_segment")) ?? 0;
    const expired = this.sql
      .exec<{ segment: number; last_seq: number; sealed_ms: number | null }>("SELECT segment, last_seq, sealed_ms FROM segments WHERE segment > ? ORDER BY segment LIMIT 1000", from)
      .toArray();
    let through: { segment: number; last_seq: number } | undefined;
    for (const segment of expired) {
      if (segment.sealed_ms === null || segment.sealed_ms > cutoff) break;
      through = segment;
    }
    if (!through) return;
    this.sql.exec("DELETE FROM entries WHERE seq <= ? AND seq < ?", through.last_seq, this.head.seq);
    await this.ctx.storage.put("forgotten_segment", through.segment);
  }

  /** For exports: seals what is pending and says what, if anything, is still unsealed and why. */
  async sealPending(): Promise<{ unsealed: number; last_seal_error?: string }> {
    await this.trySeal();
    const lastSealError = await this.ctx.storage.get<string>("last_seal_error");
    return { unsealed: this.unsealedCount(), ...(lastSealError ? { last_seal_error: lastSealError } : {}) };
  }

  async alarm(): Promise<void> {
    await this.trySeal();
  }

  async query(filter: AuditQuery): Promise<AuditPage> {
    const clauses: string[] = [];
    const values: Array<string | number> = [];
    if (filter.decision_id) (clauses.push("decision_id = ?"), values.push(filter.decision_id));
    if (filter.decision) (clauses.push("json_extract(record, '$.decision') = ?"), values.push(filter.decision));
    if (filter.session) (clauses.push("session = ?"), values.push(filter.session));
    if (filter.agent) (clauses.push("agent = ?"), values.push(filter.agent));
    if (filter.rule) (clauses.push("rules LIKE ?"), values.push(`% ${filter.rule} %`));
    if (filter.from_ms !== undefined) (clauses.push("at_ms >= ?"), values.push(filter.from_ms));
    if (filter.to_ms !== undefined) (clauses.push("at_ms <= ?"), values.push(filter.to_ms));
    if (filter.after_seq !== undefined) (clauses.push("seq > ?"), values.push(filter.after_seq));
    if (filter.before_seq !== undefined) (clauses.push("seq < ?"), values.push(filter.before_seq));
    const where = clauses.length > 0 ? `WHERE ${clauses.join(" AND ")}` : "";
    const limit = Math.max(1, Math.min(filter.limit ?? 1000, 10_000));
    const records = this.sql
      .exec<{ seq: number; hash: string; record: string }>(`SELECT seq, hash, record FROM entries ${where} ORDER BY seq ${filter.newest_first ? "DESC" : ""} LIMIT ${limit}`, ...values)
      .toArray()
      .map((row) => ({ seq: row.seq, hash: row.hash, ...JSON.parse(row.record) }));
    return records.length === limit ? { records, next_after_seq: records[records.length - 1].seq } : { records };
  }

  /**
   * Which of these decision ids the chain already holds, with the agent and the spool entry
   * (`offline.spool.hash`, null for a decision not uploaded from a spool) each was chained from:
   * an upload tells a record sent again from a different decision under a reused id.
   */
  async chainedSpoolEntries(decisionIds: string[]): Promise<Array<{ decision_id: string; agent: string; spool_hash: string | null }>> {
    return this.sql
      .exec<{ decision_id: string; agent: string; spool_hash: string | null }>(
        "SELECT decision_id, agent, json_extract(record, '$.offline.spool.hash') AS spool_hash FROM entries WHERE decision_id IN (SELECT value FROM json_each(?))",
        JSON.stringify(decisionIds),
      )
      .toArray();
  }

  /** An entry's place in the chain, for a decision's page; null when the object no longer holds it. */
  async placeOf(decisionId: string): Promise<ChainPlace | null> {
    const entry = this.sql.exec<{ seq: number; prev_hash: string; hash: string }>("SELECT seq, prev_hash, hash FROM entries WHERE decision_id = ?", decisionId).toArray()[0];
    if (!entry) return null;
    const segment = this.sql
      .exec<{ segment: number; first_seq: number; last_seq: number; digest_sha256: string; sealed_ms: number | null }>(
        "SELECT segment, first_seq, last_seq, digest_sha256, sealed_ms FROM segments WHERE first_seq <= ? AND last_seq >= ?",
        entry.seq,
        entry.seq,
      )
      .toArray()[0];
    return {
      ...entry,
      head_seq: this.head.seq,
      segment: segment ? { segment: segment.segment, first_seq: segment.first_seq, last_seq: segment.last_seq, digest_sha256: segment.digest_sha256, sealed_at: segment.sealed_ms === null ? null : new Date(segment.sealed_ms).toISOString() } : null,
    };
  }

  /**
   * Aggregates over the records this object still holds (the retention
   * window): decisions per time bucket and outcome, the rules behind the
   * most denials, and the agents with the most denials and approvals asked.
   */
  async insights(fromMs: number, toMs: number, bucketMs: number): Promise<ChainInsights> {
    const outcome = "json_extract(record, '$.decision')";
    const byBucket = this.sql
      .exec<{ bucket: number; outcome: string; n: number }>(`SELECT CAST((at_ms - ?) / ? AS INTEGER) AS bucket, ${outcome} AS outcome, COUNT(*) AS n FROM entries WHERE at_ms >= ? AND at_ms < ? GROUP BY bucket, outcome`, fromMs, bucketMs, fromMs, toMs)
      .toArray();
    const topRules = this.sql
      .exec<{ rule: string; n: number }>(
        `SELECT j.value AS rule, COUNT(*) AS n FROM entries, json_each(json_extract(entries.record, '$.rules')) AS j WHERE ${outcome} = 'deny' AND at_ms >= ? AND at_ms < ? GROUP BY rule ORDER BY n DESC, rule LIMIT 10`,
        fromMs,
        toMs,
      )
      .toArray();
    const topAgents = (verdict: string) =>
      this.sql.exec<{ agent: string; n: number }>(`SELECT agent, COUNT(*) AS n FROM entries WHERE ${outcome} = ? AND at_ms >= ? AND at_ms < ? GROUP BY agent ORDER BY n DESC, agent LIMIT 10`, verdict, fromMs, toMs).toArray();
    const oldest = this.sql.exec<{ at: number | null }>("SELECT MIN(at_ms) AS at FROM entries").one().at;
    return { by_bucket: byBucket, top_deny_rules: topRules, top_denied_agents: topAgents("deny"), top_approval_agents: topAgents("require_approval"), oldest_held_ms: oldest };
  }

  async count(name: string, by = 1): Promise<void> {
    this.sql.exec("INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value", name, by);
  }

  async counters(): Promise<Record<string, number>> {
    return Object.fromEntries(this.sql.exec<{ name: string; value: number }>("SELECT name, value FROM counters").toArray().map((row) => [row.name, row.value]));
  }

  /**
   * The chain as this object, its only writer, knows it: `entries` ever chained (retention
   * drops old ones from SQLite, never from the count), how many of them await sealing, and
   * how many segments are sealed. An auditor checks what R2 holds against it.
   */
  async stats(): Promise<{ entries: number; unsealed: number; segments: number; seal_failures: number; last_seal_error?: string }> {
    const entries = this.head.seq;
    const segments = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM segments").one().n;
    const sealFailures = (await this.counters()).seal_failures ?? 0;
    const lastSealError = await this.ctx.storage.get<string>("last_seal_error");
    return { entries, unsealed: this.unsealedCount(), segments, seal_failures: sealFailures, ...(lastSealError ? { last_seal_error: lastSealError } : {}) };
  }

}
