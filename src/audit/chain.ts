/**
 * @module chain
 * The shapes of the tamper-evident log and the hashing that links it. Each
 * entry commits to its sequence number, the previous entry's hash and the
 * record; each segment's digest commits to the segment's bytes, its last
 * entry and the previous digest, and is signed (the CloudTrail digest-file
 * idea), so a deleted, edited, inserted or reordered record, and a deleted or
 * edited segment, all show. Pure and shared by the Worker and the CLI.
 */
import { canonicalJson, sha256Hex } from "../bundles/canonical.ts";

export interface ChainEntry {
  seq: number;
  prev_hash: string;
  hash: string;
  record: Record<string, unknown>;
}

export interface SegmentDigest {
  shard: string;
  segment: number;
  first_seq: number;
  last_seq: number;
  count: number;
  segment_sha256: string;
  last_hash: string;
  /** sha256 of the previous segment's digest document; the genesis value for segment 1. */
  prev_digest_sha256: string;
  created: string;
  key_id: string;
}

export const genesisHash = (shard: string) => `genesis:${shard}`;

/** What an entry's hash covers; computed the same way everywhere. */
export function entryPreimage(seq: number, prevHash: string, record: Record<string, unknown>): string {
  return canonicalJson({ seq, prev_hash: prevHash, record });
}

export async function entryHash(seq: number, prevHash: string, record: Record<string, unknown>): Promise<string> {
  return `sha256:${await sha256Hex(entryPreimage(seq, prevHash, record))}`;
}

export function entryLine(entry: ChainEntry): string {
  return canonicalJson(entry);
}

export async function digestHash(digest: SegmentDigest): Promise<string> {
  return sha256Hex(canonicalJson(digest));
}

export const segmentKey = (shard: string, segment: number) => `audit/${shard}/segments/${String(segment).padStart(10, "0")}.ndjson`;
export const digestKey = (shard: string, segment: number) => `audit/${shard}/digests/${String(segment).padStart(10, "0")}.json`;
