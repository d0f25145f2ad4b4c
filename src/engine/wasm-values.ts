/**
 * @module wasm-values
 * Host builtins' scalar arguments and results, read and written straight in
 * OPA's wasm memory instead of through text.
 *
 * A host builtin's argument otherwise goes out as `opa_value_dump` text (an
 * allocation, OPA's JSON writer, a decode, a parse) and its result comes
 * back as text through `opa_value_parse`. For the global policy that was
 * about a tenth of an evaluation, nearly all of it for strings, numbers and
 * short arrays of them (`sprintf`'s arguments, `time.now_ns()`'s answer).
 * Those shapes are read here from OPA's structs (value.h of its runtime;
 * the compiler's interned constants share them) and written as OPA's own
 * parser would build them. Objects and sets, whose key order the text
 * fixes, are left to the text path, as is anything nested deeper than a
 * few levels.
 *
 * The layout is the runtime's, not a published ABI, so every instance
 * checks it on load (probeWasmValues): values parsed by OPA must read back
 * as their dumps read, and values written here must dump as the values
 * their text parses to. A runtime that lays them out otherwise keeps the
 * text path.
 */
import { numberFromText, readRegoValue, writeRegoValue, type RegoValue } from "./rego-value";

/** OPA's type tags (value.h), the interned ones its compiler emits included. */
const OPA_NULL = 1;
const OPA_BOOLEAN = 2;
const OPA_NUMBER = 3;
const OPA_STRING = 4;
const OPA_ARRAY = 5;
const OPA_STRING_INTERNED = 8;
const OPA_BOOLEAN_INTERNED = 9;
const REPR_INT = 1;
const REPR_REF = 2;

/** Sizes of OPA's structs in wasm32: opa_boolean_t, opa_number_t, opa_string_t. */
const BOOLEAN_BYTES = 2;
const NUMBER_BYTES = 24;
const STRING_BYTES = 12;

/** Deeper arrays go through the text path; a builtin's arguments are rarely more than an array of scalars. */
const MAX_DEPTH = 4;
/** Strings up to this many bytes, all ASCII, are decoded by hand: cheaper than a TextDecoder call. */
const SHORT_ASCII = 32;

/** Marks what this module does not read or write; the caller takes the text path. */
export const TEXT_PATH = Symbol("text path");

export interface WasmAllocator {
  opa_malloc(size: number): number;
  opa_free(addr: number): void;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export class WasmValues {
  private view: DataView;
  private bytes: Uint8Array;

  constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly allocator: WasmAllocator,
  ) {
    this.view = new DataView(memory.buffer);
    this.bytes = new Uint8Array(memory.buffer);
  }

  /** The value at `addr` as rego-value.ts reads it for builtins ("values"), or TEXT_PATH. */
  read(addr: number): RegoValue | typeof TEXT_PATH {
    this.refresh();
    return this.readAt(addr, 0);
  }

  /** Builds a scalar result in wasm memory and returns its address, or TEXT_PATH for anything else. */
  write(value: unknown): number | typeof TEXT_PATH {
    switch (typeof value) {
      case "string":
        return this.writeString(value);
      case "boolean": {
        const addr = this.allocator.opa_malloc(BOOLEAN_BYTES);
        this.refresh();
        this.bytes[addr] = OPA_BOOLEAN;
        this.bytes[addr + 1] = value ? 1 : 0;
        return addr;
      }
      case "number":
        return Number.isFinite(value) ? this.writeNumber(JSON.stringify(value)) : TEXT_PATH;
      case "bigint":
        return this.writeNumber(value.toString());
      default:
        return TEXT_PATH;
    }
  }

  private refresh(): void {
    if (this.bytes.buffer !== this.memory.buffer) {
      this.view = new DataView(this.memory.buffer);
      this.bytes = new Uint8Array(this.memory.buffer);
    }
  }

  private readAt(addr: number, depth: number): RegoValue | typeof TEXT_PATH {
    const view = this.view;
    switch (this.bytes[addr]) {
      case OPA_NULL:
        return null;
      case OPA_BOOLEAN:
      case OPA_BOOLEAN_INTERNED:
        return this.bytes[addr + 1] !== 0;
      case OPA_STRING:
      case OPA_STRING_INTERNED:
        return this.text(view.getUint32(addr + 8, true), view.getUint32(addr + 4, true));
      case OPA_NUMBER: {
        const repr = this.bytes[addr + 1];
        if (repr === REPR_INT) {
          const int = view.getBigInt64(addr + 8, true);
          return int >= MIN_SAFE && int <= MAX_SAFE ? Number(int) : int;
        }
        if (repr === REPR_REF) return numberFromText(this.text(view.getUint32(addr + 8, true), view.getUint32(addr + 12, true)), "values");
        return TEXT_PATH;
      }
      case OPA_ARRAY: {
        if (depth >= MAX_DEPTH) return TEXT_PATH;
        const elems = view.getUint32(addr + 4, true);
        const length = view.getUint32(addr + 8, true);
        const items: RegoValue[] = new Array(length);
        for (let i = 0; i < length; i++) {
          // An element is {index, value}: two pointers.
          const item = this.readAt(view.getUint32(elems + 8 * i + 4, true), depth + 1);
          if (item === TEXT_PATH) return TEXT_PATH;
          items[i] = item;
        }
        return items;
      }
      default:
        return TEXT_PATH;
    }
  }

  private text(at: number, length: number): string {
    if (length <= SHORT_ASCII) {
      const bytes = this.bytes;
      let text = "";
      for (let i = at; i < at + length; i++) {
        const byte = bytes[i];
        if (byte >= 0x80) return decoder.decode(bytes.subarray(at, at + length));
        text += String.fromCharCode(byte);
      }
      return text;
    }
    return decoder.decode(this.bytes.subarray(at, at + length));
  }

  /** OPA's string as opa_string_allocated makes it: the struct, and its own copy of the bytes. */
  private writeString(value: string): number | typeof TEXT_PATH {
    const data = this.allocator.opa_malloc(value.length);
    this.refresh();
    let length = asciiInto(value, this.bytes, data);
    let bytes = data;
    if (length < 0) {
      this.allocator.opa_free(data);
      // A lone surrogate has no UTF-8: the text path decides what OPA makes of its escape.
      if (LONE_SURROGATE.test(value)) return TEXT_PATH;
      // Not ASCII: encoded into a block big enough for any UTF-8 the text can become (three bytes a UTF-16 unit).
      bytes = this.allocator.opa_malloc(value.length * 3);
      this.refresh();
      length = encoder.encodeInto(value, this.bytes.subarray(bytes, bytes + value.length * 3)).written;
    }
    const addr = this.allocator.opa_malloc(STRING_BYTES);
    this.refresh();
    this.bytes[addr] = OPA_STRING;
    this.bytes[addr + 1] = 1; // free: the bytes are the string's own
    this.view.setUint32(addr + 4, length, true);
    this.view.setUint32(addr + 8, bytes, true);
    return addr;
  }

  /** A number as OPA's parser makes it from text: a reference to its own copy of the decimal text. */
  private writeNumber(text: string): number {
    const data = this.allocator.opa_malloc(text.length);
    const addr = this.allocator.opa_malloc(NUMBER_BYTES);
    this.refresh();
    // A number's text is ASCII.
    asciiInto(text, this.bytes, data);
    this.bytes[addr] = OPA_NUMBER;
    this.bytes[addr + 1] = REPR_REF;
    this.view.setUint32(addr + 8, data, true);
    this.view.setUint32(addr + 12, text.length, true);
    this.bytes[addr + 16] = 1; // free: the text is the number's own
    return addr;
  }
}

/** Copies an ASCII text into `bytes` at `at` and returns its length, or -1 (having written part of it) when it is not ASCII. */
function asciiInto(text: string, bytes: Uint8Array, at: number): number {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0x80) return -1;
    bytes[at + i] = unit;
  }
  return text.length;
}

/**
 * The text path the probe checks against, as its caller runs it: text
 * parsed into a value (its address), and a value dumped as text.
 */
export interface TextPath {
  parse(text: string): number;
  dump(addr: number): string;
}

/** Values every layout assumption above is checked against: each read, and the scalars each written. */
const PROBE_READ = '[null,true,false,12,-7,1.50,123456789012345678901234567890,"","plain","h\\u00e9llo \\"w\\"\\n",["a",[1,[true]]]]';
const PROBE_WRITE: unknown[] = [true, false, 0, -12, 1.5, 2 ** 53 + 2, 2n ** 70n, "", "plain", 'h\u00e9llo "w"\n\u{1F600}'];

/**
 * Whether this instance lays values out as WasmValues reads and writes them:
 * a value the text path parsed reads as its dump does, and every value
 * written dumps as, and reads back as, the value its text parses to. False
 * on any difference, or if anything throws.
 */
export function probeWasmValues(text: TextPath, values: WasmValues): boolean {
  try {
    const parsed = text.parse(PROBE_READ);
    const direct = values.read(parsed);
    if (direct === TEXT_PATH || !sameValue(direct, readRegoValue(text.dump(parsed), { shape: "values" }))) return false;
    for (const value of PROBE_WRITE) {
      const addr = values.write(value);
      if (addr === TEXT_PATH) return false;
      const expected = readRegoValue(writeRegoValue(value), { shape: "values" });
      if (!sameValue(readRegoValue(text.dump(addr), { shape: "values" }), expected) || !sameValue(values.read(addr), expected)) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/** Deep equality of two values as read for builtins (arrays, scalars, bigints, raw numbers). */
function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((item, i) => sameValue(item, b[i]));
  if (a !== null && typeof a === "object") return b !== null && typeof b === "object" && JSON.stringify(a) === JSON.stringify(b);
  return a === b;
}
