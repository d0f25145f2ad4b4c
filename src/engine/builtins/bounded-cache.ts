/**
 * @module bounded-cache
 * A small least-recently-used cache for what a builtin derives from its
 * arguments alone (a compiled JSON Schema, a built GraphQL schema, a parsed
 * certificate), kept across evaluations in the sandbox isolate, as OPA keeps
 * such values in its inter-query cache. Bounded, so hostile inputs cannot
 * grow it; keyed by the argument's exact text.
 */
export class BoundedCache<V> {
  private readonly entries = new Map<string, V>();

  constructor(private readonly capacity: number) {}

  get(key: string, make: () => V): V {
    const found = this.entries.get(key);
    if (found !== undefined) {
      // Re-inserting moves the entry to the most recently used end.
      this.entries.delete(key);
      this.entries.set(key, found);
      return found;
    }
    const value = make();
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
    return value;
  }
}
