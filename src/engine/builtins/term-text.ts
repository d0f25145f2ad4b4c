/**
 * @module term-text
 * Values written as OPA writes Rego terms (ast.Value.String()): strings
 * quoted as Go's strconv.Quote does, objects with their keys in order and
 * ": " between key and value, sets in order and `set()` when empty. print()
 * and sprintf's %v print values this way.
 */
import { compareRegoValues, isRawNumber, numberText, type RegoValue } from "../rego-value";

/** Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. */
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
const SHORT_ESCAPES: Record<string, string> = { "\x07": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v", "\\": "\\\\", '"': '\\"' };

/** strconv.Quote for a well-formed string. */
export function goQuote(text: string): string {
  let out = '"';
  for (const char of text) {
    const short = SHORT_ESCAPES[char];
    if (short) out += short;
    else if (PRINTABLE.test(char)) out += char;
    else {
      const code = char.codePointAt(0)!;
      if (code < 0x80) out += `\\x${code.toString(16).padStart(2, "0")}`;
      else if (code < 0x10000) out += `\\u${code.toString(16).padStart(4, "0")}`;
      else out += `\\U${code.toString(16).padStart(8, "0")}`;
    }
  }
  return `${out}"`;
}

export function termText(value: RegoValue): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return String(value);
    case "number":
    case "bigint":
      return numberText(value);
    case "string":
      return goQuote(value);
  }
  if (isRawNumber(value)) return value.rawJSON;
  if (Array.isArray(value)) return `[${value.map(termText).join(", ")}]`;
  if (value instanceof Set) {
    return value.size === 0 ? "set()" : `{${[...value].sort(compareRegoValues).map(termText).join(", ")}}`;
  }
  const entries: Array<[RegoValue, RegoValue]> = value instanceof Map ? [...value] : Object.entries(value);
  entries.sort((a, b) => compareRegoValues(a[0], b[0]));
  return `{${entries.map(([k, v]) => `${termText(k)}: ${termText(v)}`).join(", ")}}`;
}
