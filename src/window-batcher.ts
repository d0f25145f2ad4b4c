/**
 * @module window-batcher
 * Gathers what an isolate's decisions leave behind (audit records, alerts)
 * for a moment and hands it on together, instead of one Queue message per
 * decision: a Queue operation per batch, not per decision (Queues bills and
 * rate-limits by message, and each send costs the isolate about the same
 * whatever it carries). Adding an entry is all a decision does on its own
 * time; whatever the entries cost to build, size and send is paid once per
 * batch, when it leaves. The request that opens a batch owns its flush and
 * keeps itself alive for it (waitUntil), so no entry depends on a request
 * that has already finished.
 */

/**
 * How long a batch stays open. Entries are off the response path either way.
 * Each send costs the isolate about the same whatever it carries, so a busy
 * isolate should send few, full messages; the window bounds how long an entry
 * waits in memory, far below the Queue's own delivery delay (its consumer's
 * batch timeout, a second).
 */
const BATCH_WINDOW_MS = 100;
/** A batch closes to new entries at this many, so one flush's work (and memory) stays bounded. */
const MAX_BATCH_ENTRIES = 1000;

export class WindowBatcher<T> {
  private current: T[] | undefined;

  constructor(private readonly flush: (entries: T[]) => Promise<void>) {}

  /**
   * Adds an entry. Returns the flush the caller must keep alive (waitUntil)
   * when this entry opened a batch; undefined when it joined a batch that
   * another request owns. A full batch is only closed to new entries: it
   * still leaves on its owner's timer, so every flush runs in the context of
   * the request that is waiting for it.
   */
  add(entry: T): Promise<void> | undefined {
    if (this.current && this.current.length >= MAX_BATCH_ENTRIES) this.current = undefined;
    let owned: Promise<void> | undefined;
    if (this.current === undefined) {
      const batch: T[] = [];
      this.current = batch;
      owned = new Promise((resolve) => setTimeout(resolve, BATCH_WINDOW_MS)).then(() => {
        if (this.current === batch) this.current = undefined;
        return this.flush(batch);
      });
    }
    this.current.push(entry);
    return owned;
  }
}

// One batcher per isolate and Queue binding (should the environment ever differ).
const batchers = new WeakMap<object, WindowBatcher<unknown>>();

/** This isolate's batcher for `binding`, made with `flush` on first use. */
export function batcherFor<T>(binding: object, flush: (entries: T[]) => Promise<void>): WindowBatcher<T> {
  let batcher = batchers.get(binding) as WindowBatcher<T> | undefined;
  if (!batcher) {
    batcher = new WindowBatcher(flush);
    batchers.set(binding, batcher as WindowBatcher<unknown>);
  }
  return batcher;
}
