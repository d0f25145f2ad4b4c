/**
 * @module verify
 * Verifies an exported audit log: every segment digest's signature (a
 * trusted key with scope "audit"), the chain of digests (a deleted or edited
 * segment breaks it), every segment's bytes against its digest, inside
 * segments every entry's hash and link, and the end of the log against the
 * signed head and, when given, the chain object's own count (deleting the
 * newest segments leaves a shorter chain that is whole in itself; only
 * these show it). Problems are reported at the exact place: which record was
 * modified, deleted, inserted or reordered, which object does not parse.
 *
 * Segments are fed one at a time and only a few numbers per segment are
 * kept, so a log of any length is verified in bounded memory; so is the
 * list of problems (the first MAX_PROBLEMS, then a count).
 * Pure and shared by the Worker and `tollgate audit verify`.
 */
import { sha256Hex } from "../bundles/canonical.ts";
import { keyCovers, type TrustStore } from "../bundles/manifest.ts";
import { verifyDocument } from "../bundles/signature.ts";
import { digestHash, entryHash, genesisHash, type ChainEntry, type ChainHead, type SegmentDigest } from "./chain.ts";
import { isJsonObject } from "../own-members.ts";

/** One sealed segment as the export carries it: both objects' text exactly as stored, null when absent. */
export interface ExportedSegment {
  /** The segment its digest's key names; null for a key the chain never writes. */
  segment: number | null;
  digest_key: string;
  digest: string | null;
  segment_key: string;
  text: string | null;
}

/** The signed head as stored (null when absent). */
export interface ExportedHead {
  key: string;
  text: string | null;
}

/** What the chain object says it has sealed (`GET /v1/admin/audit/status?tenant=`). */
export interface ChainStatus {
  segments: number;
  sealed_entries: number;
}

export type ProblemKind =
  | "modified"
  | "deleted"
  | "inserted"
  | "reordered"
  | "segment_modified"
  | "segment_missing"
  | "bad_signature"
  | "corrupt_object"
  | "truncated"
  | "head_missing"
  | "head_mismatch";

export interface Problem {
  kind: ProblemKind;
  /** The segment at fault; 0 where none can be named (the head, the log as a whole). */
  segment: number;
  seq?: number;
  /** The R2 object at fault, where one can be named. */
  object?: string;
  message: string;
}

export interface VerifyReport {
  ok: boolean;
  segments: number;
  entries: number;
  /** The last sealed entry the log reaches (its last digest's last_seq), 0 for an empty log. */
  last_seq: number;
  problems: Problem[];
  /** Problems found beyond the first MAX_PROBLEMS, counted but not listed. */
  problems_omitted: number;
}

export const MAX_PROBLEMS = 1000;

const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

function signedDocument(text: string): { document: Record<string, unknown>; signature: string } | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    if (isJsonObject(parsed) && isJsonObject(parsed.document) && typeof parsed.signature === "string") return { document: parsed.document, signature: parsed.signature };
  } catch {
    // reported by the caller, naming the object
  }
  return undefined;
}

function asDigest(document: Record<string, unknown>): SegmentDigest | undefined {
  const d = document;
  const ok =
    typeof d.shard === "string" && isCount(d.segment) && isCount(d.first_seq) && isCount(d.last_seq) && isCount(d.count) &&
    typeof d.segment_sha256 === "string" && typeof d.last_hash === "string" && typeof d.prev_digest_sha256 === "string" &&
    typeof d.created === "string" && typeof d.key_id === "string";
  return ok ? (d as unknown as SegmentDigest) : undefined;
}

function asHead(document: Record<string, unknown>): ChainHead | undefined {
  const h = document;
  const ok = h.kind === "audit_head" && typeof h.shard === "string" && isCount(h.segment) && typeof h.digest_sha256 === "string" && isCount(h.entries) && typeof h.created === "string" && typeof h.key_id === "string";
  return ok ? (h as unknown as ChainHead) : undefined;
}

function asEntry(line: string): ChainEntry | undefined {
  try {
    const entry: unknown = JSON.parse(line);
    if (isJsonObject(entry) && Number.isSafeInteger(entry.seq) && (entry.seq as number) > 0 && typeof entry.prev_hash === "string" && typeof entry.hash === "string" && isJsonObject(entry.record)) {
      return entry as unknown as ChainEntry;
    }
  } catch {
    // reported by the caller
  }
  return undefined;
}

async function signedByAuditKey(document: Record<string, unknown>, signature: string, trust: TrustStore): Promise<boolean> {
  const key = trust.keys.find((k) => k.id === document.key_id);
  return !!key && !key.revoked && keyCovers(key, "audit") && (await verifyDocument(document, signature, key.public_key));
}

/** Verifies a log fed segment by segment, in order; `finish` checks its end and reports. */
export class AuditLogVerifier {
  private readonly problems: Problem[] = [];
  private omitted = 0;
  private entries = 0;
  private segments = 0;
  /** The previous digest's hash (undefined after a digest that cannot be read: its successor is not judged by it). */
  private previousDigest: string | undefined;
  private expectedSegment = 1;
  private expectedSeq = 1;
  private previousHash: string;
  /** The last digest read: where the log ends. */
  private last: { segment: number; last_seq: number; digest_sha256: string | undefined } = { segment: 0, last_seq: 0, digest_sha256: undefined };
  /** Sequence numbers skipped so far, as [from, to] ranges in order; a late arrival is taken out again. */
  private readonly gaps: Array<[number, number]> = [];
  /** Each segment's range, to say in which segment a deleted record was. */
  private readonly ranges: Array<{ segment: number; first_seq: number; last_seq: number }> = [];

  private readonly shard: string;
  private readonly trust: TrustStore;

  constructor(shard: string, trust: TrustStore) {
    this.shard = shard;
    this.trust = trust;
    this.previousDigest = genesisHash(shard);
    this.previousHash = genesisHash(shard);
  }

  private report(problem: Problem): void {
    if (this.problems.length < MAX_PROBLEMS) this.problems.push(problem);
    else this.omitted++;
  }

  async add(exported: ExportedSegment): Promise<void> {
    if (exported.segment === null) {
      this.report({ kind: "corrupt_object", segment: 0, object: exported.digest_key, message: `${exported.digest_key}: not an object the chain writes` });
      return;
    }
    this.segments++;
    const signed = exported.digest === null ? undefined : signedDocument(exported.digest);
    const digest = signed && asDigest(signed.document);
    const number = digest?.segment ?? exported.segment;
    if (!signed || !digest) {
      this.report({
        kind: "corrupt_object",
        segment: number,
        object: exported.digest_key,
        message: `${exported.digest_key}: ${exported.digest === null ? "missing" : "not a signed segment digest"}`,
      });
      this.previousDigest = undefined;
    } else {
      await this.checkDigest(exported, digest, signed.signature);
    }
    if (exported.text === null) {
      this.report({ kind: "segment_missing", segment: number, object: exported.segment_key, message: `segment ${number}: ${exported.segment_key} is missing` });
    } else {
      if (digest && (await sha256Hex(exported.text)) !== digest.segment_sha256) {
        this.report({ kind: "segment_modified", segment: number, object: exported.segment_key, message: `segment ${number}: contents differ from its signed digest` });
      }
      await this.checkEntries(number, exported.text);
    }
    if (digest && this.expectedSeq <= digest.last_seq) {
      // The segment's last records are gone (its digest says where it ended): the next
      // segment links to the last one it signed, not to what is left.
      this.gaps.push([this.expectedSeq, digest.last_seq]);
      this.expectedSeq = digest.last_seq + 1;
      this.previousHash = digest.last_hash;
    }
    if (digest) {
      this.ranges.push({ segment: digest.segment, first_seq: digest.first_seq, last_seq: digest.last_seq });
      this.last = { segment: digest.segment, last_seq: digest.last_seq, digest_sha256: this.previousDigest };
    } else {
      this.last = { segment: number, last_seq: this.expectedSeq - 1, digest_sha256: undefined };
    }
    this.expectedSegment = number + 1;
  }

  private async checkDigest(exported: ExportedSegment, d: SegmentDigest, signature: string): Promise<void> {
    if (!(await signedByAuditKey(d as unknown as Record<string, unknown>, signature, this.trust))) {
      this.report({ kind: "bad_signature", segment: d.segment, object: exported.digest_key, message: `segment ${d.segment}: digest signature does not verify (key ${d.key_id})` });
    }
    if (exported.segment !== null && exported.segment !== d.segment) {
      this.report({ kind: "segment_modified", segment: d.segment, object: exported.digest_key, message: `${exported.digest_key}: holds the digest of segment ${d.segment}` });
    }
    if (d.segment !== this.expectedSegment) {
      this.report({
        kind: "segment_missing",
        segment: this.expectedSegment,
        message: `segment ${this.expectedSegment}${d.segment - 1 > this.expectedSegment ? `–${d.segment - 1}` : ""} missing before segment ${d.segment}`,
      });
    } else if (this.previousDigest !== undefined && d.prev_digest_sha256 !== this.previousDigest) {
      this.report({ kind: "segment_modified", segment: d.segment, message: `segment ${d.segment}: does not follow the previous digest` });
    }
    this.previousDigest = await digestHash(d);
  }

  private async checkEntries(segment: number, text: string): Promise<void> {
    for (const line of text.split("\n")) {
      if (line.length === 0) continue;
      const entry = asEntry(line);
      if (!entry) {
        this.report({ kind: "modified", segment, message: `segment ${segment}: a line is not a chain entry` });
        continue;
      }
      this.entries++;
      const recomputed = await entryHash(entry.seq, entry.prev_hash, entry.record);
      if (recomputed !== entry.hash) {
        this.report({ kind: "modified", segment, seq: entry.seq, message: `record ${entry.seq} (decision ${String(entry.record.decision_id)}) was modified` });
      }
      if (entry.seq < this.expectedSeq) {
        if (this.takeFromGaps(entry.seq)) {
          this.report({ kind: "reordered", segment, seq: entry.seq, message: `record ${entry.seq} is out of order (after record ${this.expectedSeq - 1})` });
        } else {
          this.report({ kind: "inserted", segment, seq: entry.seq, message: `a record claiming seq ${entry.seq} was inserted (seq ${entry.seq} already present)` });
        }
        continue;
      }
      if (entry.seq > this.expectedSeq) {
        this.gaps.push([this.expectedSeq, entry.seq - 1]);
      } else if (entry.prev_hash !== this.previousHash && recomputed === entry.hash) {
        this.report({ kind: "inserted", segment, seq: entry.seq, message: `record ${entry.seq} does not link to record ${entry.seq - 1}: a record was inserted` });
      }
      this.expectedSeq = entry.seq + 1;
      this.previousHash = entry.hash;
    }
  }

  /** Whether `seq` was among the skipped numbers (then it no longer is). */
  private takeFromGaps(seq: number): boolean {
    for (let i = this.gaps.length - 1; i >= 0; i--) {
      const [from, to] = this.gaps[i];
      if (seq < from || seq > to) continue;
      const rest: Array<[number, number]> = [];
      if (from < seq) rest.push([from, seq - 1]);
      if (seq < to) rest.push([seq + 1, to]);
      this.gaps.splice(i, 1, ...rest);
      return true;
    }
    return false;
  }

  private segmentHolding(seq: number): number {
    return this.ranges.find((r) => r.first_seq <= seq && seq <= r.last_seq)?.segment ?? 0;
  }

  /** Checks where the log ends against the signed head and, when given, the chain object's count. */
  async finish(head: ExportedHead | undefined, chain?: ChainStatus): Promise<VerifyReport> {
    for (const [from, to] of this.gaps) {
      const message = from === to ? `record ${from} was deleted` : `records ${from}–${to} were deleted`;
      this.report({ kind: "deleted", segment: this.segmentHolding(from), seq: from, message });
    }
    await this.checkHead(head);
    if (chain && (this.last.segment < chain.segments || this.last.last_seq < chain.sealed_entries)) {
      this.report({
        kind: "truncated",
        segment: this.last.segment + 1,
        message: `the chain object has sealed ${chain.segments} segment(s), ${chain.sealed_entries} record(s); the log in R2 ends at segment ${this.last.segment}, record ${this.last.last_seq}: the newest were deleted`,
      });
    }
    return { ok: this.problems.length === 0, segments: this.segments, entries: this.entries, last_seq: this.last.last_seq, problems: this.problems, problems_omitted: this.omitted };
  }

  private async checkHead(exported: ExportedHead | undefined): Promise<void> {
    const key = exported?.key ?? "head";
    if (!exported || exported.text === null) {
      if (this.segments > 0) this.report({ kind: "head_missing", segment: 0, object: key, message: `${key}: missing; the newest records cannot be shown complete` });
      return;
    }
    const signed = signedDocument(exported.text);
    const head = signed && asHead(signed.document);
    if (!signed || !head) {
      this.report({ kind: "corrupt_object", segment: 0, object: key, message: `${key}: not a signed chain head` });
      return;
    }
    if (!(await signedByAuditKey(signed.document, signed.signature, this.trust)) || head.shard !== this.shard) {
      this.report({ kind: "bad_signature", segment: 0, object: key, message: `${key}: the head's signature does not verify for ${this.shard} (key ${head.key_id})` });
      return;
    }
    if (head.segment > this.last.segment || head.entries > this.last.last_seq) {
      this.report({
        kind: "truncated",
        segment: this.last.segment + 1,
        object: key,
        message: `the signed head names segment ${head.segment} and ${head.entries} record(s); the log ends at segment ${this.last.segment}, record ${this.last.last_seq}: the newest were deleted`,
      });
    } else if (head.segment !== this.last.segment || head.entries !== this.last.last_seq || head.digest_sha256 !== this.last.digest_sha256) {
      this.report({ kind: "head_mismatch", segment: this.last.segment, object: key, message: `${key}: the signed head (segment ${head.segment}, ${head.entries} records) does not match the log's last digest` });
    }
  }
}

/** Verifies a whole export held in memory (tests, small logs); the CLI streams through AuditLogVerifier. */
export async function verifyAuditLog(shard: string, exported: { head?: ExportedHead; segments: ExportedSegment[] }, trust: TrustStore, chain?: ChainStatus): Promise<VerifyReport> {
  const verifier = new AuditLogVerifier(shard, trust);
  for (const segment of exported.segments) await verifier.add(segment);
  return verifier.finish(exported.head, chain);
}
