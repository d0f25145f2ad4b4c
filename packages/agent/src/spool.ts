/**
 * @module spool
 * The local, hash-chained spool of decisions made offline. Each entry
 * carries its sequence number, the hash of the entry before it and its own
 * hash (sha256 over the previous hash and the record's canonical JSON), so
 * an entry edited, dropped or reordered on disk breaks the chain. Entries
 * stay until the edge has acknowledged them; an upload cut off midway is
 * simply sent again (the edge appends by decision id, so nothing is
 * recorded twice).
 *
 * Where entries live is a `SpoolStore`: memory (here), IndexedDB in
 * browsers (indexeddb-spool.ts) or a file in Node, Deno and Bun
 * (file-spool.ts). A store that cannot read an entry
 * back reports it as corrupt; the others are still uploaded.
 */
import { canonicalJson, sha256Hex } from "./canonical-json.ts";
import type { OfflineRecord } from "./offline-record.ts";

export interface SpoolEntry {
  seq: number;
  prev: string;
  hash: string;
  record: OfflineRecord;
}

export interface SpoolStore {
  /** Every entry still held, in order, and how many could not be read back. */
  load(): Promise<{ entries: SpoolEntry[]; corrupt: number }>;
  append(entry: SpoolEntry): Promise<void>;
  /** Forgets the entries up to and including `seq` (the edge has them). */
  drop(throughSeq: number): Promise<void>;
  /** Keeps entries the edge refused (and why) apart from the spool, for a person to look at. */
  setAside(entries: Array<SpoolEntry & { refused: { code: string; message: string } }>): Promise<void>;
}

export const SPOOL_GENESIS = `sha256:${"0".repeat(64)}`;

export async function entryHash(prev: string, record: OfflineRecord): Promise<string> {
  return `sha256:${await sha256Hex(`${prev}\n${canonicalJson(record)}`)}`;
}

/** Whether `entries` form an unbroken chain, each hash right and each linked to the one before. */
export async function chainBreak(entries: SpoolEntry[]): Promise<number | undefined> {
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i];
    if (i > 0 && (entry.prev !== entries[i - 1].hash || entry.seq !== entries[i - 1].seq + 1)) return entry.seq;
    if ((await entryHash(entry.prev, entry.record)) !== entry.hash) return entry.seq;
  }
  return undefined;
}

export class Spool {
  private tail: Promise<{ seq: number; hash: string }> | undefined;

  constructor(readonly store: SpoolStore) {}

  private async last(): Promise<{ seq: number; hash: string }> {
    this.tail ??= this.store.load().then(({ entries }) => {
      const last = entries[entries.length - 1];
      return last ? { seq: last.seq, hash: last.hash } : { seq: 0, hash: SPOOL_GENESIS };
    });
    return this.tail;
  }

  /** Appends one record, chained to the last; appends are serialised. */
  add(record: OfflineRecord): Promise<SpoolEntry> {
    const appended = this.last().then(async (last) => {
      const entry: SpoolEntry = { seq: last.seq + 1, prev: last.hash, hash: await entryHash(last.hash, record), record };
      await this.store.append(entry);
      return entry;
    });
    this.tail = appended.then(
      (entry) => ({ seq: entry.seq, hash: entry.hash }),
      () => this.last(),
    );
    return appended;
  }

  pending(): Promise<{ entries: SpoolEntry[]; corrupt: number }> {
    return this.store.load();
  }

  /** The edge took every entry up to `throughSeq`; those it refused are set aside first, so none is lost. */
  async acknowledge(throughSeq: number, refused: Array<SpoolEntry & { refused: { code: string; message: string } }> = []): Promise<void> {
    if (refused.length > 0) await this.store.setAside(refused);
    await this.store.drop(throughSeq);
  }
}

export class MemorySpoolStore implements SpoolStore {
  private entries: SpoolEntry[] = [];
  readonly setAsideEntries: Array<SpoolEntry & { refused: { code: string; message: string } }> = [];
  async setAside(entries: Array<SpoolEntry & { refused: { code: string; message: string } }>) {
    this.setAsideEntries.push(...entries);
  }
  async load() {
    return { entries: [...this.entries], corrupt: 0 };
  }
  async append(entry: SpoolEntry) {
    this.entries.push(structuredClone(entry));
  }
  async drop(throughSeq: number) {
    this.entries = this.entries.filter((entry) => entry.seq > throughSeq);
  }
}

export function isEntry(value: unknown): value is SpoolEntry {
  const entry = value as Partial<SpoolEntry> | null;
  return (
    typeof entry === "object" &&
    entry !== null &&
    Number.isSafeInteger(entry.seq) &&
    typeof entry.prev === "string" &&
    typeof entry.hash === "string" &&
    typeof entry.record === "object" &&
    entry.record !== null &&
    typeof (entry.record as OfflineRecord).decision_id === "string"
  );
}
