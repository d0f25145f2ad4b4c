/**
 * @module own-members
 * A plain object's members by a name that came from outside: a request, a
 * token, a policy's answer, a stored object. `table[name]` would read
 * Object.prototype's members for names like "constructor" or "toString",
 * and assigning to "__proto__" replaces the object's prototype instead of
 * adding a key, so the key is lost (and, sent over RPC, the object cannot
 * be serialized at all). Every such name is read and written here, and
 * whether a value from outside is an object whose members can be read.
 */

/** A JSON object: not null, not an array (typeof says "object" for both). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** An object's own member, or undefined: never one inherited from Object.prototype. */
export function ownMember<T>(object: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

/** Sets an object's own member, whatever its name (`__proto__` included). */
export function setMember<T>(object: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
}
