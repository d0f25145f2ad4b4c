/**
 * @module chain
 * The shapes of the tamper-evident log and the hashing that links it. Each
 * entry commits to its sequence number, the previous entry's hash and the
 * record; each segment's digest commits to the segment's bytes, its last
 * entry and the previous digest, and is signed (the CloudTrail digest-file
 * idea), so a deleted, edited, inserted or reordered record, and a deleted or
 * edited segment, all show. A signed head names the newest digest and the
 * number of entries sealed, so deleting the newest segments (which leaves a
 * shorter chain that is whole in itself) shows too. Pure and shared by the
 * Worker and the CLI.
 */
import { canonicalJson, sha256Hex } from "../bundles/canonical.ts";

/** What the chain needs of a record to index it; everything else is kept as given. */
export interface ChainRecord {
  decision_id: string;
  time: string;
  tenant: string;
  agent?: string;
  session?: string;
  rules?: string[];
}

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

/**
 * The chain's signed head, rewritten at every seal: the newest segment, its
 * digest's hash and how many entries the chain has sealed (sequence numbers
 * run from 1 without gaps, so this is also the last one).
 */
export interface ChainHead {
  kind: "audit_head";
  shard: string;
  segment: number;
  digest_sha256: string;
  entries: number;
  created: string;
  key_id: string;
}

export const genesisHash = (shard: string) => `genesis:${shard}`;

/**
 * What an entry's hash covers: canonicalJson({seq, prev_hash, record}),
 * spelled out so the record, already canonical, is not serialised twice.
 */
export function entryPreimage(seq: number, prevHash: string, canonicalRecord: string): string {
  return `{"prev_hash":${JSON.stringify(prevHash)},"record":${canonicalRecord},"seq":${seq}}`;
}

export async function entryHash(seq: number, prevHash: string, record: Record<string, unknown>): Promise<string> {
  return `sha256:${await sha256Hex(entryPreimage(seq, prevHash, canonicalJson(record)))}`;
}

/**
 * An entry's line in a segment: canonicalJson({hash, prev_hash, record, seq}),
 * spelled out (keys in canonical order) around the record's canonical text.
 */
export function entryLine(seq: number, prevHash: string, hash: string, canonicalRecord: string): string {
  return `{"hash":${JSON.stringify(hash)},"prev_hash":${JSON.stringify(prevHash)},"record":${canonicalRecord},"seq":${seq}}`;
}

export async function digestHash(digest: SegmentDigest): Promise<string> {
  return sha256Hex(canonicalJson(digest));
}

export const segmentKey = (shard: string, segment: number) => `audit/${shard}/segments/${String(segment).padStart(10, "0")}.ndjson`;
export const digestsPrefix = (shard: string) => `audit/${shard}/digests/`;
export const digestKey = (shard: string, segment: number) => `${digestsPrefix(shard)}${String(segment).padStart(10, "0")}.json`;
export const headKey = (shard: string) => `audit/${shard}/head.json`;

/** The segment a digest object's key names, or undefined for a key the chain never writes. */
export function segmentOfDigestKey(shard: string, key: string): number | undefined {
  const match = /^(\d{10})\.json$/.exec(key.slice(digestsPrefix(shard).length));
  return key.startsWith(digestsPrefix(shard)) && match ? Number(match[1]) : undefined;
}
