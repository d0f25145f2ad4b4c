/**
 * @module stored-json
 * Reads what the bundle store holds within a size bound. Whoever can write
 * to the bucket can put anything under a key an edge reads on every refresh
 * (the current snapshot, a layer's manifest and files, a rollout document):
 * an object past its bound is refused before its body is read, so it costs
 * no isolate its memory, and the refusal names the object.
 */
import { BundleError } from "./verify.ts";

/** A snapshot names every layer and rollout document: generous for many thousands of tenants. */
export const MAX_SNAPSHOT_BYTES = 8 * 1024 * 1024;
/** A layer's signed manifest: its files' hashes, its rules' ids, its metadata. */
export const MAX_MANIFEST_BYTES = 1024 * 1024;
/** A signed rollout document: a mode and at most one shadow reference. */
export const MAX_ROLLOUT_BYTES = 64 * 1024;

/** Refuses (`too_large`, with `refusal` as its message) an object larger than `maxBytes`, before its body is read. */
export async function assertStoredSize(object: R2ObjectBody, maxBytes: number, refusal: string): Promise<void> {
  if (object.size <= maxBytes) return;
  await object.body.cancel().catch(() => undefined);
  throw new BundleError("too_large", refusal);
}

export async function storedJson(object: R2ObjectBody, key: string, maxBytes: number): Promise<unknown> {
  await assertStoredSize(object, maxBytes, `${key}: ${object.size} bytes, over the ${maxBytes} bytes such a document may be`);
  return object.json();
}
