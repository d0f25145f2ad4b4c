/**
 * @module wasm-strings
 * The string constants an OPA-compiled policy.wasm carries. OPA's wasm
 * compiler writes every string of the plan (rule ids passed to `reason(…)`,
 * object keys, data paths, messages) into the module's data section, each
 * terminated by a NUL byte; the module has no list of rules, so these
 * constants are where the rules a layer can raise are read from its code
 * rather than from what its manifest says about it. The names of the
 * builtins it imports are constants too (sandbox-modules.ts reads them).
 * Pure: the edge, the store and the CLI read the same bytes.
 */

/** The shape of a rule id, as `tollgate build` finds them in `reason("<id>", …)`. */
const RULE_ID = /^[a-z][a-z0-9_]*$/;

const DATA_SECTION = 11;

export class WasmFormatError extends Error {}

class Reader {
  offset = 0;
  private readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  get length(): number {
    return this.bytes.length;
  }

  byte(): number {
    if (this.offset >= this.bytes.length) throw new WasmFormatError("policy.wasm: ends inside a section");
    return this.bytes[this.offset++];
  }

  /** An unsigned LEB128 number (a size, a count, a flag). */
  leb(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
    }
    throw new WasmFormatError("policy.wasm: a number longer than 32 bits");
  }

  skipLeb(): void {
    while (this.byte() & 0x80);
  }

  take(length: number): Uint8Array {
    if (this.offset + length > this.bytes.length) throw new WasmFormatError("policy.wasm: a section runs past the end");
    const slice = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return slice;
  }
}

/** Skips a constant expression (a data segment's offset): i32/i64.const or global.get, then end. */
function skipConstExpr(reader: Reader): void {
  for (;;) {
    const op = reader.byte();
    if (op === 0x0b) return;
    if (op === 0x41 || op === 0x42 || op === 0x23) reader.skipLeb();
    else throw new WasmFormatError(`policy.wasm: unexpected instruction 0x${op.toString(16)} in a data segment offset`);
  }
}

/** Each data segment's bytes. */
function dataSegments(wasm: Uint8Array): Uint8Array[] {
  const reader = new Reader(wasm);
  const header = reader.take(8);
  if (header[0] !== 0x00 || header[1] !== 0x61 || header[2] !== 0x73 || header[3] !== 0x6d || header[4] !== 0x01) {
    throw new WasmFormatError("policy.wasm: not a WebAssembly module");
  }
  const segments: Uint8Array[] = [];
  while (reader.offset < wasm.length) {
    const id = reader.byte();
    const content = new Reader(reader.take(reader.leb()));
    if (id !== DATA_SECTION) continue;
    for (let count = content.leb(); count > 0; count--) {
      const flags = content.leb();
      if (flags === 2) content.skipLeb();
      if (flags === 0 || flags === 2) skipConstExpr(content);
      else if (flags !== 1) throw new WasmFormatError(`policy.wasm: unknown data segment kind ${flags}`);
      segments.push(content.take(content.leb()));
    }
  }
  return segments;
}

const constantsCache = new WeakMap<Uint8Array, Set<string>>();
const ruleIdCache = new WeakMap<Uint8Array, Set<string>>();

/** Every NUL-terminated string constant of the module up to 128 bytes: rule ids, builtin names, keys. */
export function stringConstants(wasm: Uint8Array): Set<string> {
  const known = constantsCache.get(wasm);
  if (known) return known;
  const found = new Set<string>();
  const decoder = new TextDecoder();
  for (const segment of dataSegments(wasm)) {
    let start = 0;
    for (let i = 0; i < segment.length; i++) {
      if (segment[i] !== 0) continue;
      // Ids and names are short; longer runs are messages or data.
      if (i - start > 0 && i - start <= 128) found.add(decoder.decode(segment.subarray(start, i)));
      start = i + 1;
    }
  }
  constantsCache.set(wasm, found);
  return found;
}

/** Every string constant of the module that has the shape of a rule id. */
export function ruleIdConstants(wasm: Uint8Array): Set<string> {
  let ids = ruleIdCache.get(wasm);
  if (!ids) {
    ids = new Set([...stringConstants(wasm)].filter((text) => RULE_ID.test(text)));
    ruleIdCache.set(wasm, ids);
  }
  return ids;
}
