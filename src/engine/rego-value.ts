/**
 * @module rego-value
 * Rego values as the host sees them, exactly. OPA's wasm dumps values in its
 * own text form (JSON plus set literals `{1, 2}` and `set()`, and objects
 * whose keys need not be strings); this module reads that form and writes it
 * back without passing numbers through a double, because JSON.parse would
 * turn 11529215046068469760 into 11529215046068470000.
 *
 * In JavaScript a Rego value is: null, a boolean, a string, a number (every
 * number a double holds exactly), a bigint (an integer beyond 2^53), a raw
 * number (`JSON.rawJSON`, for a decimal no double holds), an array, a plain
 * object (string keys), a `Map` (an object with a non-string key) or a `Set`.
 */

export type RegoValue =
  | null
  | boolean
  | string
  | number
  | bigint
  | RawNumber
  | RegoValue[]
  | { [key: string]: RegoValue }
  | Map<RegoValue, RegoValue>
  | Set<RegoValue>;

/** A number kept as its decimal text; JSON.stringify writes the text unchanged. */
export interface RawNumber {
  readonly rawJSON: string;
}

interface JsonWithRaw {
  rawJSON(text: string): RawNumber;
  isRawJSON(value: unknown): value is RawNumber;
}
const rawJson = JSON as unknown as JsonWithRaw;

export const rawNumber = (text: string): RawNumber => rawJson.rawJSON(text);
export const isRawNumber = (value: unknown): value is RawNumber => rawJson.isRawJSON(value);

/** How a parsed value is shaped for the code that receives it. */
export interface ReadOptions {
  /**
   * "values": sets stay `Set`s and large integers are bigints, for host
   * builtins. "json": sets become arrays in OPA's order, non-string keys
   * become their JSON text and large integers raw numbers, so that
   * JSON.stringify writes exactly what `opa eval` prints.
   */
  shape: "values" | "json";
  /** Accept only JSON (no set literals, string keys only), for text that came from outside OPA. */
  strictJson?: boolean;
}

export class RegoValueSyntaxError extends Error {}

const SAFE_INTEGER = /^-?\d{1,15}$/;
const NUMBER = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const INTEGER = /^-?\d+$/;

/** A number's text as the closest faithful JavaScript value. */
export function numberFromText(text: string, shape: ReadOptions["shape"]): number | bigint | RawNumber {
  if (SAFE_INTEGER.test(text)) return Number(text);
  const value = Number(text);
  if (INTEGER.test(text)) {
    if (Number.isSafeInteger(value)) return value;
    return shape === "values" ? BigInt(text) : rawNumber(BigInt(text).toString());
  }
  if (!Number.isFinite(value)) return rawNumber(text);
  // For builtins, 1.0 and 1e3 keep their spelling: OPA's sprintf formats a number written with a
  // fraction or exponent as a float. A decision gets plain numbers wherever a double is exact.
  if (Number.isInteger(value) && shape === "values") return rawNumber(text);
  return sameDecimal(text, String(value)) ? value : rawNumber(text);
}

/** Whether two decimal texts denote the same number (1e3 and 1000.0 do). */
export function sameDecimal(a: string, b: string): boolean {
  const x = decimalParts(a);
  const y = decimalParts(b);
  return x.negative === y.negative && x.digits === y.digits && x.exponent === y.exponent;
}

/** A decimal as sign, significant digits (no leading or trailing zeros) and exponent: value = digits × 10^exponent. */
export function decimalParts(text: string): { negative: boolean; digits: string; exponent: number } {
  const match = /^(-?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim());
  if (!match) throw new RegoValueSyntaxError(`not a number: ${text}`);
  const [, sign, whole, fraction = "", exp = "0"] = match;
  let digits = (whole + fraction).replace(/^0+/, "");
  let exponent = Number(exp) - fraction.length;
  const trailing = digits.length - digits.replace(/0+$/, "").length;
  digits = digits.slice(0, digits.length - trailing);
  exponent += trailing;
  if (digits === "") return { negative: false, digits: "0", exponent: 0 };
  return { negative: sign === "-", digits, exponent };
}

/** Whether JSON.parse shows its reviver each value's source text (ES2025), so numbers can be read from their text. */
const PARSE_WITH_SOURCE = (() => {
  try {
    return JSON.parse("1", (_key, _value, context?: { source?: string }) => context?.source) === "1";
  } catch {
    return false;
  }
})();

/**
 * Texts whose numbers are read from their text rather than taken from
 * JSON.parse (in a string, only a false alarm). For JSON-shaped values, a
 * number of 16 or more digits or with an exponent, which a double might not
 * hold: one of at most 15 significant digits comes back from a double as
 * the same decimal, so JSON.parse's value is the one numberFromText would
 * give. For builtin arguments also any fraction, whose spelling is kept
 * (OPA's sprintf formats a number written with a fraction as a float).
 */
const MAYBE_INEXACT: Record<ReadOptions["shape"], RegExp> = {
  json: /\d(?:\.?\d){15}|\d[eE]/,
  values: /\d[.eE]|\d{16}/,
};

/**
 * The runtime's own parser, for a text that is plain JSON: several times
 * faster than the reader below, and the same value. Numbers are read from
 * their text (as the reader does) wherever a double might not hold them, or
 * not at all on a runtime without source text access. Undefined when the
 * text is not plain JSON (set literals, non-string keys): the reader decides.
 */
function readPlainJson(text: string, shape: ReadOptions["shape"]): RegoValue | undefined {
  try {
    if (!MAYBE_INEXACT[shape].test(text)) return JSON.parse(text) as RegoValue;
    if (PARSE_WITH_SOURCE) {
      return JSON.parse(text, (_key, value, context?: { source?: string }) =>
        typeof value === "number" && context?.source !== undefined ? numberFromText(context.source, shape) : value,
      ) as RegoValue;
    }
  } catch {
    // Not plain JSON.
  }
  return undefined;
}

/** Reads one value in OPA's value-dump (or plain JSON) syntax. */
export function readRegoValue(text: string, options: ReadOptions): RegoValue {
  const plain = readPlainJson(text, options.shape);
  if (plain !== undefined) return plain;
  const reader = new Reader(text, options);
  const value = reader.value();
  reader.end();
  return value;
}

class Reader {
  private at = 0;
  private readonly text: string;
  private readonly options: ReadOptions;

  // Plain fields, not parameter properties: Node's type stripping runs this file in the tools.
  constructor(text: string, options: ReadOptions) {
    this.text = text;
    this.options = options;
  }

  end(): void {
    this.space();
    if (this.at !== this.text.length) this.fail("trailing characters");
  }

  value(): RegoValue {
    this.space();
    const c = this.text[this.at];
    if (c === "{") return this.braces();
    if (c === "[") return this.array();
    if (c === '"') return this.string();
    if (c === "-" || (c >= "0" && c <= "9")) return this.number();
    if (this.text.startsWith("null", this.at)) return this.word("null", null);
    if (this.text.startsWith("true", this.at)) return this.word("true", true);
    if (this.text.startsWith("false", this.at)) return this.word("false", false);
    if (!this.options.strictJson && this.text.startsWith("set()", this.at)) return this.word("set()", this.set([]));
    return this.fail("unexpected character");
  }

  private word<T>(word: string, value: T): T {
    this.at += word.length;
    return value;
  }

  private fail(why: string): never {
    throw new RegoValueSyntaxError(`${why} at offset ${this.at}`);
  }

  private space(): void {
    while (this.at < this.text.length && " \t\n\r".includes(this.text[this.at])) this.at++;
  }

  private expect(c: string): void {
    this.space();
    if (this.text[this.at] !== c) this.fail(`expected ${c}`);
    this.at++;
  }

  /** After a value inside a collection: true when another follows. */
  private more(close: string): boolean {
    this.space();
    const c = this.text[this.at++];
    if (c === ",") return true;
    if (c === close) return false;
    return this.fail(`expected , or ${close}`);
  }

  private number(): RegoValue {
    NUMBER.lastIndex = this.at;
    const match = NUMBER.exec(this.text);
    if (!match) return this.fail("bad number");
    if (this.options.strictJson && /^-?0\d/.test(match[0])) return this.fail("leading zero");
    this.at += match[0].length;
    return numberFromText(match[0], this.options.shape);
  }

  private string(): string {
    const start = this.at;
    this.at++;
    let simple = true;
    while (this.at < this.text.length) {
      const c = this.text[this.at];
      if (c === '"') break;
      if (c === "\\") {
        simple = false;
        this.at++;
      }
      this.at++;
    }
    if (this.at >= this.text.length) this.fail("unterminated string");
    this.at++;
    const body = this.text.slice(start, this.at);
    if (simple && !this.options.strictJson) return body.slice(1, -1);
    try {
      return JSON.parse(body) as string;
    } catch {
      return this.fail("bad string escape");
    }
  }

  private array(): RegoValue[] {
    this.at++;
    const items: RegoValue[] = [];
    this.space();
    if (this.text[this.at] === "]") {
      this.at++;
      return items;
    }
    do items.push(this.value());
    while (this.more("]"));
    return items;
  }

  /** `{}` is an empty object; `{k: v, …}` an object; `{a, b}` a set. */
  private braces(): RegoValue {
    this.at++;
    this.space();
    if (this.text[this.at] === "}") {
      this.at++;
      return {};
    }
    const first = this.value();
    this.space();
    if (this.options.strictJson && (typeof first !== "string" || this.text[this.at] !== ":")) return this.fail("expected a string key and :");
    if (this.text[this.at] !== ":") {
      const items = [first];
      while (this.more("}")) items.push(this.value());
      return this.set(items);
    }
    const entries: Array<[RegoValue, RegoValue]> = [];
    let key = first;
    for (;;) {
      this.expect(":");
      entries.push([key, this.value()]);
      if (!this.more("}")) break;
      key = this.value();
      if (this.options.strictJson && typeof key !== "string") this.fail("expected a string key");
    }
    return this.object(entries);
  }

  private set(items: RegoValue[]): RegoValue {
    if (this.options.shape === "values") return new Set(items);
    return items.sort(compareRegoValues);
  }

  private object(entries: Array<[RegoValue, RegoValue]>): RegoValue {
    if (this.options.shape === "values" && entries.some(([key]) => typeof key !== "string")) return new Map(entries);
    const object: { [key: string]: RegoValue } = {};
    for (const [key, value] of entries) {
      const name = typeof key === "string" ? key : JSON.stringify(key);
      // Assignment would treat "__proto__" as the prototype, not a key.
      Object.defineProperty(object, name, { value, enumerable: true, writable: true, configurable: true });
    }
    return object;
  }
}

export class RegoValueTypeError extends Error {}

/** Writes a value in the syntax OPA's `opa_value_parse` reads (sets as set literals). */
export function writeRegoValue(value: unknown): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) throw new RegoValueTypeError(`${value} is not a Rego number`);
      return JSON.stringify(value);
    case "bigint":
      return value.toString();
    case "object":
      break;
    default:
      throw new RegoValueTypeError(`a ${typeof value} is not a Rego value`);
  }
  if (value === null) return "null";
  if (isRawNumber(value)) return value.rawJSON;
  if (Array.isArray(value)) return `[${value.map(writeRegoValue).join(",")}]`;
  if (value instanceof Set) return value.size === 0 ? "set()" : `{${[...value].map(writeRegoValue).join(",")}}`;
  if (value instanceof Map) {
    return `{${[...value].map(([k, v]) => `${writeRegoValue(k)}:${writeRegoValue(v)}`).join(",")}}`;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) {
    throw new RegoValueTypeError(`a ${value.constructor?.name ?? "class instance"} is not a Rego value`);
  }
  const fields = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  return `{${fields.map(([k, v]) => `${JSON.stringify(k)}:${writeRegoValue(v)}`).join(",")}}`;
}

/** OPA's sort order of types: null, boolean, number, string, array, object, set. */
function typeRank(value: RegoValue): number {
  if (value === null) return 0;
  switch (typeof value) {
    case "boolean":
      return 1;
    case "number":
    case "bigint":
      return 2;
    case "string":
      return 3;
  }
  if (isRawNumber(value)) return 2;
  if (Array.isArray(value)) return 7;
  if (value instanceof Set) return 9;
  return 8;
}

export function isRegoNumber(value: unknown): value is number | bigint | RawNumber {
  return typeof value === "number" || typeof value === "bigint" || isRawNumber(value);
}

/** A number's exact decimal text. */
export function numberText(value: number | bigint | RawNumber): string {
  if (typeof value === "number") return String(value);
  if (typeof value === "bigint") return value.toString();
  return value.rawJSON;
}

/** Compares two numbers exactly, whatever their representation. */
export function compareNumbers(a: number | bigint | RawNumber, b: number | bigint | RawNumber): number {
  if (typeof a === "number" && typeof b === "number") return a < b ? -1 : a > b ? 1 : 0;
  const x = decimalParts(numberText(a));
  const y = decimalParts(numberText(b));
  if (x.digits === "0" || y.digits === "0") {
    const sx = x.digits === "0" ? 0 : x.negative ? -1 : 1;
    const sy = y.digits === "0" ? 0 : y.negative ? -1 : 1;
    return Math.sign(sx - sy);
  }
  if (x.negative !== y.negative) return x.negative ? -1 : 1;
  const sign = x.negative ? -1 : 1;
  const magnitudeX = x.digits.length + x.exponent;
  const magnitudeY = y.digits.length + y.exponent;
  if (magnitudeX !== magnitudeY) return sign * Math.sign(magnitudeX - magnitudeY);
  const width = Math.max(x.digits.length, y.digits.length);
  const dx = x.digits.padEnd(width, "0");
  const dy = y.digits.padEnd(width, "0");
  return dx === dy ? 0 : sign * (dx < dy ? -1 : 1);
}

/** Go compares strings byte by byte in UTF-8, which is code point order, not UTF-16 order. */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const cx = x[i].codePointAt(0)!;
    const cy = y[i].codePointAt(0)!;
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
  return Math.sign(x.length - y.length);
}

function entriesOf(value: RegoValue): Array<[RegoValue, RegoValue]> {
  if (value instanceof Map) return [...value];
  return Object.entries(value as Record<string, RegoValue>);
}

/** OPA's total order on values (ast.Compare), used to order sets as `opa eval` prints them. */
export function compareRegoValues(a: RegoValue, b: RegoValue): number {
  const rank = typeRank(a) - typeRank(b);
  if (rank !== 0) return Math.sign(rank);
  if (a === null) return 0;
  if (typeof a === "boolean") return a === b ? 0 : a ? 1 : -1;
  if (isRegoNumber(a)) return compareNumbers(a, b as number);
  if (typeof a === "string") return compareStrings(a, b as string);
  if (Array.isArray(a)) return compareSequences(a, b as RegoValue[]);
  if (a instanceof Set) {
    return compareSequences([...a].sort(compareRegoValues), [...(b as Set<RegoValue>)].sort(compareRegoValues));
  }
  const byKey = (x: [RegoValue, RegoValue], y: [RegoValue, RegoValue]) => compareRegoValues(x[0], y[0]);
  const x = entriesOf(a).sort(byKey);
  const y = entriesOf(b).sort(byKey);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const c = compareRegoValues(x[i][0], y[i][0]) || compareRegoValues(x[i][1], y[i][1]);
    if (c !== 0) return c;
  }
  return Math.sign(x.length - y.length);
}

function compareSequences(a: RegoValue[], b: RegoValue[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = compareRegoValues(a[i], b[i]);
    if (c !== 0) return c;
  }
  return Math.sign(a.length - b.length);
}

/**
 * A canonical JSON text of a JSON-shaped value: keys sorted, numbers in one
 * decimal form, so two values that `opa eval` would print alike compare equal
 * as strings, however their numbers were spelled.
 */
export function canonicalJson(value: unknown): string {
  if (isRegoNumber(value)) {
    const { negative, digits, exponent } = decimalParts(numberText(value));
    return `${negative ? "-" : ""}${digits}e${exponent}`;
  }
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value).sort(compareStrings);
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(",")}}`;
}
