/**
 * @module queue-message-size
 * Cutting what goes onto a Queue into messages it accepts. Queues takes a
 * message of up to 128 KB; what the edge batches (audit records, alerts) is
 * cut well before, by UTF-8 size, in order.
 */

/** The size a message is cut at. */
export const MAX_QUEUE_MESSAGE_BYTES = 96 * 1024;

const encoder = new TextEncoder();

/** A text's size in UTF-8; most of it is ASCII, and only text that is not gets encoded to count. */
export function utf8Length(text: string): number {
  return /^[\x00-\x7f]*$/.test(text) ? text.length : encoder.encode(text).byteLength;
}

/**
 * Items in order, cut into groups whose sizes (plus `overhead` each) add up
 * to at most `maxBytes`, of at most `maxItems` each; an item over the limit
 * travels alone (and is refused).
 */
export function cutBySize<T>(items: T[], sizeOf: (item: T) => number, maxBytes = MAX_QUEUE_MESSAGE_BYTES, overhead = 1, maxItems = Number.POSITIVE_INFINITY): T[][] {
  const groups: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item) + overhead;
    if (current.length > 0 && (bytes + size > maxBytes || current.length >= maxItems)) {
      groups.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}
