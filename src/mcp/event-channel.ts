/**
 * @module event-channel
 * One SSE response to a client: a reply streamed to a request, or a GET
 * stream that more than one source writes to (the upstream's standalone
 * stream and the gateway's own notices). Each message is written whole, in
 * the order sent; the channel ends when a source ends it or the client goes
 * away (`done`), and every source learns that at its next write.
 */
const encoder = new TextEncoder();

/** One SSE event carrying a JSON-RPC message; `id` (visible ASCII, event-id.ts) lets the client resume after it. */
const sseEvent = (message: unknown, event?: string, id?: string) =>
  encoder.encode(`${id ? `id: ${id}\n` : ""}${event ? `event: ${event}\n` : ""}data: ${JSON.stringify(message)}\n\n`);

/** An SSE comment: ignored by clients, it keeps idle intermediaries from closing the stream. */
const KEEP_ALIVE = encoder.encode(":\n\n");
/**
 * How often a quiet stream gets one. The runtime learns that a client has
 * gone only when a write to it fails, so this also bounds how long a stream
 * the client left holds what it holds (the upstream's own stream, which the
 * upstream lets a session open only once).
 */
const KEEP_ALIVE_MS = 5_000;

export class ChannelClosed extends Error {}

export class EventChannel {
  readonly response: Response;
  /** Settles once the stream has ended, closed by a source or by the client going away (its read side cancelled). */
  readonly done: Promise<void>;
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  private closed = false;

  constructor() {
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    this.writer = writable.getWriter();
    const keepAlive = setInterval(() => this.write(KEEP_ALIVE).catch(() => undefined), KEEP_ALIVE_MS);
    this.done = this.writer.closed.then(
      () => undefined,
      () => undefined,
    ).finally(() => {
      this.closed = true;
      clearInterval(keepAlive);
    });
    this.response = new Response(readable, { status: 200, headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
  }

  get open(): boolean {
    return !this.closed;
  }

  send(message: unknown, event?: string, id?: string): Promise<void> {
    return this.write(sseEvent(message, event, id));
  }

  /** An event that carries only an id (no data, so nothing is dispatched): where the client may resume from (MCP's priming event). */
  mark(id: string): Promise<void> {
    return this.write(encoder.encode(`id: ${id}\ndata: \n\n`));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.writer.close().catch(() => undefined);
  }

  private async write(bytes: Uint8Array): Promise<void> {
    if (this.closed) throw new ChannelClosed("the stream has ended");
    try {
      await this.writer.write(bytes);
    } catch {
      // The client went away: the stream is over for every source.
      this.closed = true;
      throw new ChannelClosed("the client closed the stream");
    }
  }
}
