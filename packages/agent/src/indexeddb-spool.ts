/**
 * @module indexeddb-spool
 * The spool in IndexedDB, for browsers: one object store keyed by sequence
 * number, each append its own transaction, committed before the decision is
 * returned. The few IndexedDB types used are declared here, so the SDK
 * builds without the DOM library.
 */
import { isEntry, type SpoolEntry, type SpoolStore } from "./spool.ts";

interface Request<T> {
  result: T;
  error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
interface ObjectStore {
  getAll(): Request<unknown[]>;
  add(value: unknown): Request<unknown>;
  delete(range: unknown): Request<unknown>;
}
interface Transaction {
  objectStore(name: string): ObjectStore;
  error: unknown;
  oncomplete: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}
interface Database {
  transaction(store: string, mode: "readonly" | "readwrite"): Transaction;
  createObjectStore(name: string, options: { keyPath: string }): unknown;
}
interface Factory {
  open(name: string, version: number): Request<Database> & { onupgradeneeded: (() => void) | null };
}
interface KeyRange {
  bound(lower: number, upper: number): unknown;
}

const browser = globalThis as unknown as { indexedDB?: Factory; IDBKeyRange?: KeyRange };

/** Entries set aside are stored under negative sequence numbers. */
const setAside = (row: unknown) => typeof (row as { seq?: unknown } | null)?.seq === "number" && (row as { seq: number }).seq < 0;

export function hasIndexedDb(): boolean {
  return browser.indexedDB !== undefined && browser.IDBKeyRange !== undefined;
}

export class IndexedDbSpoolStore implements SpoolStore {
  private db: Promise<Database> | undefined;

  constructor(private readonly name = "tollgate-spool") {}

  private open(): Promise<Database> {
    this.db ??= new Promise((resolve, reject) => {
      const request = browser.indexedDB!.open(this.name, 1);
      request.onupgradeneeded = () => request.result.createObjectStore("entries", { keyPath: "seq" });
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    return this.db;
  }

  private async run<T>(mode: "readonly" | "readwrite", work: (store: ObjectStore) => Request<T>): Promise<T> {
    const db = await this.open();
    return new Promise((resolve, reject) => {
      const transaction = db.transaction("entries", mode);
      const request = work(transaction.objectStore("entries"));
      transaction.oncomplete = () => resolve(request.result);
      transaction.onerror = () => reject(transaction.error);
      transaction.onabort = () => reject(transaction.error);
    });
  }

  async load() {
    const rows = (await this.run("readonly", (store) => store.getAll())).filter((row) => !setAside(row));
    const entries = rows.filter(isEntry);
    return { entries, corrupt: rows.length - entries.length };
  }

  async append(entry: SpoolEntry) {
    await this.run("readwrite", (store) => store.add(entry));
  }

  async setAside(entries: Array<SpoolEntry & { refused: { code: string; message: string } }>) {
    // Kept under negative keys, below every live entry, so a drop never removes them.
    for (const entry of entries) await this.run("readwrite", (store) => store.add({ ...entry, seq: -entry.seq - Date.now() * 1000 }));
  }

  async drop(throughSeq: number) {
    await this.run("readwrite", (store) => store.delete(browser.IDBKeyRange!.bound(0, throughSeq)));
  }
}
