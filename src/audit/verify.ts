/**
 * @module verify
 * Verifies an exported audit log: every segment digest's signature (a
 * trusted key with scope "audit"), the chain of digests (a deleted or edited
 * segment breaks it), every segment's bytes against its digest, and inside
 * segments every entry's hash and link. Problems are reported at the exact
 * place: which record was modified, deleted, inserted or reordered.
 * Pure and shared by the Worker and `tollgate audit verify`.
 */
import { sha256Hex } from "../bundles/canonical.ts";
import { keyCovers, type TrustStore } from "../bundles/manifest.ts";
import { verifyDocument } from "../bundles/signature.ts";
import { digestHash, entryHash, genesisHash, type ChainEntry, type SegmentDigest } from "./chain.ts";

export interface ExportedSegment {
  digest: { document: SegmentDigest; signature: string };
  text: string;
}

export type ProblemKind = "modified" | "deleted" | "inserted" | "reordered" | "segment_modified" | "segment_missing" | "bad_signature";

export interface Problem {
  kind: ProblemKind;
  segment: number;
  seq?: number;
  message: string;
}

export interface VerifyReport {
  ok: boolean;
  segments: number;
  entries: number;
  problems: Problem[];
}

export async function verifyAuditLog(shard: string, segments: ExportedSegment[], trust: TrustStore): Promise<VerifyReport> {
  const problems: Problem[] = [];
  let entries = 0;
  let previousDigest = genesisHash(shard);
  let expectedSegment = 1;
  let expectedSeq = 1;
  let previousHash = genesisHash(shard);
  const seen = new Set<number>();
  const missing = new Set<number>();

  for (const { digest, text } of segments) {
    const d = digest.document;
    const key = trust.keys.find((k) => k.id === d.key_id);
    if (!key || key.revoked || !keyCovers(key, "audit") || !(await verifyDocument(d, digest.signature, key.public_key))) {
      problems.push({ kind: "bad_signature", segment: d.segment, message: `segment ${d.segment}: digest signature does not verify (key ${d.key_id})` });
    }
    if (d.segment !== expectedSegment) {
      problems.push({ kind: "segment_missing", segment: expectedSegment, message: `segment ${expectedSegment}${d.segment - 1 > expectedSegment ? `–${d.segment - 1}` : ""} missing before segment ${d.segment}` });
    } else if (d.prev_digest_sha256 !== previousDigest) {
      problems.push({ kind: "segment_modified", segment: d.segment, message: `segment ${d.segment}: does not follow the previous digest` });
    }
    if ((await sha256Hex(text)) !== d.segment_sha256) {
      problems.push({ kind: "segment_modified", segment: d.segment, message: `segment ${d.segment}: contents differ from its signed digest` });
    }
    for (const line of text.split("\n").filter((l) => l.length > 0)) {
      let entry: ChainEntry;
      try {
        entry = JSON.parse(line) as ChainEntry;
      } catch {
        problems.push({ kind: "modified", segment: d.segment, message: `segment ${d.segment}: a line is not JSON` });
        continue;
      }
      entries++;
      const recomputed = await entryHash(entry.seq, entry.prev_hash, entry.record);
      if (recomputed !== entry.hash) {
        problems.push({ kind: "modified", segment: d.segment, seq: entry.seq, message: `record ${entry.seq} (decision ${String(entry.record.decision_id)}) was modified` });
      }
      if (seen.has(entry.seq)) {
        problems.push({ kind: "inserted", segment: d.segment, seq: entry.seq, message: `a record claiming seq ${entry.seq} was inserted (seq ${entry.seq} already present)` });
        continue;
      }
      if (entry.seq < expectedSeq) {
        missing.delete(entry.seq);
        problems.push({ kind: "reordered", segment: d.segment, seq: entry.seq, message: `record ${entry.seq} is out of order (after record ${expectedSeq - 1})` });
        seen.add(entry.seq);
        continue;
      }
      if (entry.seq > expectedSeq) {
        for (let s = expectedSeq; s < entry.seq; s++) missing.add(s);
      } else if (entry.prev_hash !== previousHash && recomputed === entry.hash) {
        problems.push({ kind: "inserted", segment: d.segment, seq: entry.seq, message: `record ${entry.seq} does not link to record ${entry.seq - 1}: a record was inserted` });
      }
      seen.add(entry.seq);
      expectedSeq = entry.seq + 1;
      previousHash = entry.hash;
    }
    previousDigest = await digestHash(d);
    expectedSegment = d.segment + 1;
  }
  for (const seq of [...missing].sort((a, b) => a - b)) {
    problems.push({ kind: "deleted", segment: segments.find((s) => s.digest.document.first_seq <= seq && seq <= s.digest.document.last_seq)?.digest.document.segment ?? 0, seq, message: `record ${seq} was deleted` });
  }
  return { ok: problems.length === 0, segments: segments.length, entries, problems };
}
