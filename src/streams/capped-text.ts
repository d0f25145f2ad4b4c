/**
 * @module capped-text
 * Reads a body stream as UTF-8 text, up to a byte limit: past it, the rest
 * is not read (the stream is cancelled) and the caller is told, so a body
 * that declared no length (chunked) or lied about it can never be buffered
 * whole. Used for what the edge reads from others: request bodies it must
 * bound itself, and answers of servers it fetches from.
 */
export async function cappedText(body: ReadableStream<Uint8Array> | null | undefined, maxBytes: number): Promise<{ text: string } | { tooLarge: true }> {
  const reader = body?.getReader();
  if (!reader) return { text: "" };
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return { tooLarge: true };
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { text: new TextDecoder().decode(bytes) };
}

/**
 * Reads and drops a body, up to `maxBytes`, then cancels what is left. A
 * server that refuses a body it has not read (413) and closes may reset the
 * connection while the client is still sending, and the client then sees a
 * broken connection instead of the refusal; reading a bounded amount first
 * lets an ordinary client read its answer.
 */
export async function discardBody(body: ReadableStream<Uint8Array> | null | undefined, maxBytes: number): Promise<void> {
  const reader = body?.getReader();
  if (!reader) return;
  let size = 0;
  try {
    while (size <= maxBytes) {
      const { done, value } = await reader.read();
      if (done) return;
      size += value.byteLength;
    }
    await reader.cancel();
  } catch {
    // A body that broke off is as good as read.
  }
}
