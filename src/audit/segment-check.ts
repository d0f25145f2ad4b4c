/**
 * @module segment-check
 * Verifies one sealed segment of a tenant's log as R2 holds it, for a
 * decision's page: its digest is signed by a trusted audit key, follows the
 * previous segment's digest, commits to the segment's exact bytes, every
 * entry's hash recomputes and links to the one before, and the decision's
 * entry is there with the hash the chain object holds. What is stored is
 * read as hostile: an object that is missing or does not parse is a finding,
 * never an error. The whole log is verified by `tollgate audit verify`; this
 * answers for the one segment a person is looking at.
 */
import { sha256Hex } from "../bundles/canonical";
import { keyCovers, type TrustStore } from "../bundles/manifest";
import { verifyDocument } from "../bundles/signature";
import { digestHash, digestKey, entryHash, genesisHash, segmentKey, type SegmentDigest } from "./chain";

export interface SegmentCheck {
  ok: boolean;
  segment: number;
  /** What was checked and held, in order. */
  passed: string[];
  /** What failed, each naming the object or record at fault. */
  problems: string[];
}

function parsed(text: string | null): { document?: Record<string, unknown>; signature?: unknown } | undefined {
  if (text === null) return undefined;
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === "object" && value !== null ? (value as { document?: Record<string, unknown>; signature?: unknown }) : undefined;
  } catch {
    return undefined;
  }
}

async function text(bucket: R2Bucket, key: string): Promise<string | null> {
  const object = await bucket.get(key);
  return object ? object.text() : null;
}

export async function checkSegment(bucket: R2Bucket, shard: string, segment: number, trust: TrustStore, entry: { seq: number; hash: string }): Promise<SegmentCheck> {
  const passed: string[] = [];
  const problems: string[] = [];
  const done = () => ({ ok: problems.length === 0, segment, passed, problems });
  const dKey = digestKey(shard, segment);
  const signed = parsed(await text(bucket, dKey));
  const digest = signed?.document as SegmentDigest | undefined;
  if (!signed || !digest || typeof signed.signature !== "string" || typeof digest.segment_sha256 !== "string") {
    problems.push(`${dKey}: missing or not a signed segment digest`);
    return done();
  }
  const key = trust.keys.find((k) => k.id === digest.key_id);
  if (key && !key.revoked && keyCovers(key, "audit") && (await verifyDocument(digest, signed.signature, key.public_key))) passed.push(`digest signed by audit key ${digest.key_id}`);
  else problems.push(`${dKey}: its signature does not verify with a trusted audit key (key ${String(digest.key_id)})`);
  if (digest.shard !== shard || digest.segment !== segment) problems.push(`${dKey}: names ${String(digest.shard)} segment ${String(digest.segment)}`);

  let previousHash: string | undefined = genesisHash(shard);
  if (segment > 1) {
    const before = parsed(await text(bucket, digestKey(shard, segment - 1)));
    previousHash = before?.document ? await digestHash(before.document as unknown as SegmentDigest) : undefined;
  }
  if (previousHash !== undefined && digest.prev_digest_sha256 === previousHash) passed.push(segment === 1 ? "first segment of the chain" : `follows segment ${segment - 1}'s digest`);
  else problems.push(`segment ${segment}: does not follow segment ${segment - 1}'s digest${previousHash === undefined ? " (which is missing or corrupt)" : ""}`);

  const sKey = segmentKey(shard, segment);
  const body = await text(bucket, sKey);
  if (body === null) {
    problems.push(`${sKey}: missing`);
    return done();
  }
  if ((await sha256Hex(body)) === digest.segment_sha256) passed.push("segment bytes match the signed digest");
  else problems.push(`${sKey}: contents differ from its signed digest`);

  let expectedSeq = digest.first_seq;
  let previousEntryHash: string | undefined;
  let found = false;
  let intact = true;
  for (const line of body.split("\n")) {
    if (line.length === 0) continue;
    let item: { seq?: unknown; prev_hash?: unknown; hash?: unknown; record?: unknown };
    try {
      item = JSON.parse(line) as typeof item;
    } catch {
      problems.push(`${sKey}: a line is not a chain entry`);
      intact = false;
      continue;
    }
    const { seq, prev_hash: prevHash, hash, record } = item;
    if (typeof seq !== "number" || typeof prevHash !== "string" || typeof hash !== "string" || typeof record !== "object" || record === null) {
      problems.push(`${sKey}: a line is not a chain entry`);
      intact = false;
      continue;
    }
    if ((await entryHash(seq, prevHash, record as Record<string, unknown>)) !== hash) (problems.push(`record ${seq} was modified`), (intact = false));
    if (seq !== expectedSeq) (problems.push(`record ${expectedSeq} is missing or out of order (found ${seq})`), (intact = false));
    if (previousEntryHash !== undefined && prevHash !== previousEntryHash) (problems.push(`record ${seq} does not link to record ${seq - 1}`), (intact = false));
    if (seq === entry.seq) {
      found = true;
      if (hash !== entry.hash) problems.push(`record ${seq} in R2 differs from the chain object's copy`);
    }
    expectedSeq = seq + 1;
    previousEntryHash = hash;
  }
  if (intact) passed.push(`records ${digest.first_seq}–${digest.last_seq} recompute and link`);
  if (expectedSeq - 1 !== digest.last_seq) problems.push(`segment ${segment}: ends at record ${expectedSeq - 1}, its digest says ${digest.last_seq}`);
  if (found && !problems.some((p) => p.startsWith(`record ${entry.seq} `))) passed.push(`this decision is record ${entry.seq}, as the chain object holds it`);
  else if (!found) problems.push(`record ${entry.seq} is not in ${sKey}`);
  return done();
}
