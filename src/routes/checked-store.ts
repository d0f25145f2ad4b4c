/**
 * @module checked-store
 * The bundle store as the admin routes read it. An object in R2 whose JSON
 * does not parse is a corrupt store: neither the caller's mistake (4xx) nor a
 * bug (500). Reading it raises 502 `store_corrupt` with the object's key in
 * the message, so an operator knows which object to restore from its
 * history (a snapshot's numbered copy, the layer as built).
 */
import { ApiError } from "../errors";

export class StoreCorruptError extends ApiError {
  constructor(
    readonly key: string,
    detail: string,
  ) {
    super(502, "store_corrupt", `${key}: ${detail}; the stored object is corrupt, restore it from the store's history`);
  }
}

/** A property of the target, methods bound to it: native R2 objects check their receiver. */
function forward<T extends object>(target: T, property: string | symbol): unknown {
  const value = Reflect.get(target, property);
  return typeof value === "function" ? value.bind(target) : value;
}

function checkedObject<T extends R2Object | null>(key: string, object: T): T {
  if (!object || !("body" in object)) return object;
  return new Proxy(object, {
    get(target, property) {
      if (property !== "json") return forward(target, property);
      return async () => {
        const text = await (target as unknown as R2ObjectBody).text();
        try {
          return JSON.parse(text);
        } catch {
          throw new StoreCorruptError(key, "not JSON");
        }
      };
    },
  });
}

/** The same bucket, except that `get(key).json()` of an object that is not JSON throws StoreCorruptError. */
export function checkedBucket(bucket: R2Bucket): R2Bucket {
  return new Proxy(bucket, {
    get(target, property) {
      if (property !== "get") return forward(target, property);
      return async (key: string, options?: R2GetOptions) => checkedObject(key, await target.get(key, options));
    },
  });
}
