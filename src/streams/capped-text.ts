/**
 * @module capped-text
 * Reads a body stream as UTF-8 text, up to a byte limit: past it, the rest
 * is not read (the stream is cancelled) and the caller is told, so a body
 * that declared no length (chunked) or lied about it can never be buffered
 * whole. Used for what the edge reads from others: request bodies it must
 * bound itself, and answers of servers it fetches from.
 */
export async function cappedText(body: ReadableStream<Uint8Array> | null | undefined, maxBytes: number): Promise<{ text: string } | { tooLarge: true }> {
  const read = await cappedBytes(body, maxBytes);
  return "tooLarge" in read ? read : { text: new TextDecoder().decode(read.bytes) };
}

/** UTF-8 text, or undefined for bytes that are not UTF-8: a JSON body that is not (RFC 8259 §8.1) is refused, never repaired with U+FFFD. */
export function strictUtf8(bytes: ArrayBuffer | Uint8Array): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return undefined;
  }
}

/** The bytes of a body stream, up to a byte limit, as cappedText reads them. */
export async function cappedBytes(body: ReadableStream<Uint8Array> | null | undefined, maxBytes: number): Promise<{ bytes: Uint8Array } | { tooLarge: true }> {
  const reader = body?.getReader();
  if (!reader) return { bytes: new Uint8Array(0) };
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
  return { bytes };
}

/** How much of a body that declared itself too large is read and dropped before it is refused, in multiples of the limit. */
const DISCARD_FACTOR = 4;

/**
 * Whether a request declares a Content-Length that is not a length or is
 * over `maxBytes`: such a body is refused (413) without being parsed. One
 * that is merely over the limit is first read and dropped, up to four
 * times the limit: a server that refuses a body it has not read and closes
 * may reset the connection while the client is still sending, and the
 * client would then see a broken connection instead of the refusal.
 * Without a declared length the body is for cappedText to bound.
 */
export async function declaresTooLarge(request: Request, maxBytes: number): Promise<boolean> {
  const declared = request.headers.get("content-length");
  if (declared === null) return false;
  if (!/^\d+$/.test(declared)) return true;
  if (Number(declared) <= maxBytes) return false;
  await discardBody(request.body, DISCARD_FACTOR * maxBytes);
  return true;
}

/** Reads and drops a body, up to `maxBytes`, then cancels what is left. */
async function discardBody(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<void> {
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
