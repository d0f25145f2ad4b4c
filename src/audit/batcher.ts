/**
 * @module batcher
 * Gathers an isolate's audit records for a few milliseconds and puts them on
 * the Queue as one message, instead of one message per decision: the work a
 * decision leaves behind shrinks to appending to an array, and the log needs
 * a Queue operation per few dozen decisions, not per decision (Queues bills
 * and rate-limits by message). The request that opens a batch owns its flush
 * and keeps itself alive for it (waitUntil), so no record depends on a
 * request that has already finished. What the sink does with a batch the
 * Queue refuses is the writer's business (it writes it through, or counts it
 * as lost).
 */

/** How long a batch stays open. Records are off the response path either way; this bounds their delay. */
const BATCH_WINDOW_MS = 20;
/** Queues accepts messages up to 128 KB; a batch closes well before (sizes are JSON estimates). */
const MAX_BATCH_BYTES = 96 * 1024;

export interface BatchSink<R> {
  send(records: R[]): Promise<void>;
  /** Called with a batch the Queue refused; must write it elsewhere or count it lost. */
  fallback(records: R[], error: unknown): Promise<void>;
}

interface OpenBatch<R> {
  records: R[];
  bytes: number;
}

export class AuditBatcher<R> {
  private current: OpenBatch<R> | undefined;

  constructor(private readonly sink: BatchSink<R>) {}

  /**
   * Adds a record. Returns the flush the caller must keep alive (waitUntil)
   * when this record opened a batch; undefined when it joined a batch that
   * another request owns. A full batch is only closed to new records: it
   * still leaves on its owner's timer, so every send runs in the context of
   * the request that is waiting for it.
   */
  add(record: R): Promise<void> | undefined {
    const bytes = JSON.stringify(record).length;
    const open = this.current;
    if (open && open.bytes + bytes > MAX_BATCH_BYTES) this.current = undefined;
    let owned: Promise<void> | undefined;
    if (this.current === undefined) {
      const batch: OpenBatch<R> = { records: [], bytes: 0 };
      this.current = batch;
      owned = new Promise((resolve) => setTimeout(resolve, BATCH_WINDOW_MS)).then(() => {
        if (this.current === batch) this.current = undefined;
        return this.sink.send(batch.records).catch((error) => this.sink.fallback(batch.records, error));
      });
    }
    this.current.records.push(record);
    this.current.bytes += bytes;
    return owned;
  }
}
