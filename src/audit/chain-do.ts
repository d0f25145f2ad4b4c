/**
 * @module chain-do
 * One Durable Object per audit shard (a tenant): the only writer of that
 * shard's hash chain, so the chain can never fork. Appends are idempotent by
 * decision id and run synchronously against SQLite (node:crypto hashes
 * synchronously), so a batch is either appended whole or not at all, and a
 * redelivered batch adds nothing twice. Entries are sealed into R2 segments
 * with a signed digest when a segment fills up, and by an alarm otherwise.
 * The object also answers queries and keeps the log's loss counters.
 */
import { DurableObject } from "cloudflare:workers";
import { createHash } from "node:crypto";
import { canonicalJson } from "../bundles/canonical";
import { signDocument } from "../bundles/signature";
import { migrate } from "../session/migrations";
import { digestHash, digestKey, entryLine, entryPreimage, genesisHash, segmentKey, type ChainEntry, type SegmentDigest } from "./chain";

const SEGMENT_MAX_ENTRIES = 500;
const FLUSH_AFTER_MS = 10_000;

const MIGRATIONS = [
  [
    "CREATE TABLE entries (seq INTEGER PRIMARY KEY, decision_id TEXT NOT NULL UNIQUE, at_ms INTEGER NOT NULL, agent TEXT, session TEXT, rules TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL, record TEXT NOT NULL, segment INTEGER)",
    "CREATE INDEX entries_unsealed ON entries (segment, seq)",
    "CREATE TABLE segments (segment INTEGER PRIMARY KEY, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, digest_sha256 TEXT NOT NULL)",
    "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
  ],
];

export interface AuditQuery {
  decision_id?: string;
  session?: string;
  agent?: string;
  rule?: string;
  from_ms?: number;
  to_ms?: number;
  limit?: number;
}

const sha256 = (text: string) => `sha256:${createHash("sha256").update(text).digest("hex")}`;

export class AuditChainDO extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private sealing: Promise<number> | undefined;
  /** Test and drill hook: the next append fails as a crashed writer would. */
  private failNextAppends = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => migrate(this.sql, MIGRATIONS));
  }

  private shard(): string {
    return this.ctx.id.name ?? this.ctx.id.toString();
  }

  /** Appends records in order; returns how many were new. Synchronous, so a batch is all-or-nothing. */
  async append(records: Array<Record<string, unknown> & { decision_id: string; time: string }>): Promise<{ appended: number; duplicates: number }> {
    if (this.failNextAppends > 0) {
      this.failNextAppends--;
      throw new Error("audit writer failed (injected)");
    }
    let appended = 0;
    let duplicates = 0;
    this.ctx.storage.transactionSync(() => {
      for (const record of records) {
        const seen = this.sql.exec("SELECT 1 FROM entries WHERE decision_id = ?", record.decision_id).toArray().length > 0;
        if (seen) {
          duplicates++;
          continue;
        }
        const last = this.sql.exec<{ seq: number; hash: string }>("SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1").toArray()[0];
        const seq = (last?.seq ?? 0) + 1;
        const prevHash = last?.hash ?? genesisHash(this.shard());
        const hash = sha256(entryPreimage(seq, prevHash, record));
        const rules = Array.isArray(record.rules) ? ` ${(record.rules as string[]).join(" ")} ` : " ";
        this.sql.exec(
          "INSERT INTO entries (seq, decision_id, at_ms, agent, session, rules, prev_hash, hash, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
          seq,
          record.decision_id,
          Date.parse(record.time) || Date.now(),
          String(record.agent ?? ""),
          String(record.session ?? ""),
          rules,
          prevHash,
          hash,
          canonicalJson(record),
        );
        appended++;
      }
    });
    const unsealed = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM entries WHERE segment IS NULL").one().n;
    if (unsealed >= SEGMENT_MAX_ENTRIES) await this.seal();
    else if (unsealed > 0 && (await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + FLUSH_AFTER_MS);
    return { appended, duplicates };
  }

  /** Writes the unsealed entries as the next segment, with its signed digest. Single flight. */
  seal(): Promise<number> {
    this.sealing ??= this.sealNow().finally(() => {
      this.sealing = undefined;
    });
    return this.sealing;
  }

  private async sealNow(): Promise<number> {
    const rows = this.sql.exec<{ seq: number; prev_hash: string; hash: string; record: string }>("SELECT seq, prev_hash, hash, record FROM entries WHERE segment IS NULL ORDER BY seq LIMIT ?", SEGMENT_MAX_ENTRIES).toArray();
    if (rows.length === 0) return 0;
    const shard = this.shard();
    const previous = this.sql.exec<{ segment: number; digest_sha256: string }>("SELECT segment, digest_sha256 FROM segments ORDER BY segment DESC LIMIT 1").toArray()[0];
    const segment = (previous?.segment ?? 0) + 1;
    const text = rows.map((row) => entryLine({ seq: row.seq, prev_hash: row.prev_hash, hash: row.hash, record: JSON.parse(row.record) } as ChainEntry)).join("\n") + "\n";
    const keyId = this.env.AUDIT_KEY_ID;
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
    const signature = await signDocument(digest, JSON.parse(this.env.AUDIT_SIGNING_KEY) as JsonWebKey);
    await this.env.AUDIT_LOG.put(segmentKey(shard, segment), text);
    await this.env.AUDIT_LOG.put(digestKey(shard, segment), JSON.stringify({ document: digest, signature }));
    const sealed = await digestHash(digest);
    this.sql.exec("INSERT INTO segments (segment, first_seq, last_seq, digest_sha256) VALUES (?, ?, ?, ?)", segment, digest.first_seq, digest.last_seq, sealed);
    this.sql.exec("UPDATE entries SET segment = ? WHERE seq BETWEEN ? AND ?", segment, digest.first_seq, digest.last_seq);
    return rows.length;
  }

  async alarm(): Promise<void> {
    while ((await this.seal()) > 0);
  }

  async query(filter: AuditQuery): Promise<unknown[]> {
    const clauses: string[] = [];
    const values: Array<string | number> = [];
    if (filter.decision_id) (clauses.push("decision_id = ?"), values.push(filter.decision_id));
    if (filter.session) (clauses.push("session = ?"), values.push(filter.session));
    if (filter.agent) (clauses.push("agent = ?"), values.push(filter.agent));
    if (filter.rule) (clauses.push("rules LIKE ?"), values.push(`% ${filter.rule} %`));
    if (filter.from_ms !== undefined) (clauses.push("at_ms >= ?"), values.push(filter.from_ms));
    if (filter.to_ms !== undefined) (clauses.push("at_ms <= ?"), values.push(filter.to_ms));
    const where = clauses.length > 0 ? `WHERE ${clauses.join(" AND ")}` : "";
    const limit = Math.min(filter.limit ?? 1000, 10_000);
    return this.sql.exec<{ seq: number; hash: string; record: string }>(`SELECT seq, hash, record FROM entries ${where} ORDER BY seq LIMIT ${limit}`, ...values)
      .toArray()
      .map((row) => ({ seq: row.seq, hash: row.hash, ...JSON.parse(row.record) }));
  }

  async count(name: string, by = 1): Promise<void> {
    this.sql.exec("INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value", name, by);
  }

  async counters(): Promise<Record<string, number>> {
    return Object.fromEntries(this.sql.exec<{ name: string; value: number }>("SELECT name, value FROM counters").toArray().map((row) => [row.name, row.value]));
  }

  async stats(): Promise<{ entries: number; unsealed: number; segments: number }> {
    const entries = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM entries").one().n;
    const unsealed = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM entries WHERE segment IS NULL").one().n;
    const segments = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM segments").one().n;
    return { entries, unsealed, segments };
  }

  async failNext(count: number): Promise<void> {
    this.failNextAppends = count;
  }
}
