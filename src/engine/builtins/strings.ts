/**
 * @module strings
 * String and regex builtins the wasm runtime leaves to the host. Regexes are
 * Go RE2 syntax in OPA, written as JavaScript RegExps by re2-syntax.ts; an
 * invalid pattern makes the builtin undefined, as in OPA, and one OPA runs
 * that cannot be written faithfully stops the evaluation.
 */
import { BuiltinError, expectInteger, expectNumber, expectString, type Builtin } from "./context";
import { BoundedCache } from "./bounded-cache";
import { expandGo, translateRe2, UnsupportedPattern } from "./re2-syntax";

/** Compiled patterns (and the errors of those that do not compile), kept across evaluations as OPA keeps its own. */
const compiled = new BoundedCache<RegExp | Error>(64);

function compile(pattern: string, flags = ""): RegExp {
  const regex = compiled.get(`${flags}\u0000${pattern}`, () => {
    try {
      const translated = translateRe2(pattern);
      return new RegExp(translated.source, `${translated.flags}${flags}u`);
    } catch (error) {
      // A pattern that cannot be written faithfully stops the evaluation (UnsupportedPattern); an invalid one is undefined.
      return error instanceof UnsupportedPattern ? error : new BuiltinError(`invalid regex ${JSON.stringify(pattern)}`);
    }
  });
  if (regex instanceof Error) throw regex;
  // A global RegExp keeps where it stopped; replace and matchAll start from 0 or copy it, but be sure.
  regex.lastIndex = 0;
  return regex;
}

function collection(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value) || value instanceof Set) return [...value].map((v) => expectString(v, "element"));
  throw new BuiltinError("expected a string, array or set of strings");
}

/** Go's Regexp.Split(s, -1): an empty match right after a match is skipped, captures are not returned. */
function regexSplit(pattern: string, text: string): string[] {
  if (text === "") return [""];
  const pieces: string[] = [];
  let begin = 0;
  let end = 0;
  let previousEnd = -1;
  for (const match of text.matchAll(compile(pattern, "g"))) {
    const start = match.index!;
    const stop = start + match[0].length;
    if (stop === start && start === previousEnd) continue;
    previousEnd = stop;
    end = start;
    if (stop !== 0) pieces.push(text.slice(begin, end));
    begin = stop;
  }
  if (end !== text.length) pieces.push(text.slice(begin));
  return pieces;
}

/** Go's strings.Split, where an empty separator splits into characters. */
function goSplit(text: string, separator: string, limit = -1): string[] {
  if (limit === 0) return [];
  if (separator === "") {
    const chars = [...text];
    if (limit < 0 || chars.length <= limit) return chars;
    return [...chars.slice(0, limit - 1), chars.slice(limit - 1).join("")];
  }
  const parts = text.split(separator);
  if (limit < 0 || parts.length <= limit) return parts;
  return [...parts.slice(0, limit - 1), parts.slice(limit - 1).join(separator)];
}

export const stringBuiltins: Record<string, Builtin> = {
  /** OPA 1.22: n ≥ 0 keeps the first n parts of SplitN(s, d, n+1); n < 0 keeps the last |n| parts. */
  "strings.split_n": (value: unknown, delimiter: unknown, count: unknown) => {
    const text = expectString(value, "x");
    const separator = expectString(delimiter, "delimiter");
    const n = Number(expectInteger(count, "n"));
    if (n >= 0) return goSplit(text, separator, n + 1 < 0 || !Number.isSafeInteger(n + 1) ? -1 : n + 1).slice(0, n);
    const parts = goSplit(text, separator);
    return parts.slice(Math.max(parts.length + n, 0));
  },
  "regex.split": (pattern: unknown, value: unknown) => regexSplit(expectString(pattern, "pattern"), expectString(value, "value")),
  "strings.any_prefix_match": (search: unknown, base: unknown) =>
    collection(search).some((s) => collection(base).some((prefix) => s.startsWith(prefix))),
  "strings.any_suffix_match": (search: unknown, base: unknown) =>
    collection(search).some((s) => collection(base).some((suffix) => s.endsWith(suffix))),
  "strings.count": (search: unknown, substring: unknown) => {
    const haystack = expectString(search, "search");
    const needle = expectString(substring, "substring");
    if (needle === "") return [...haystack].length + 1;
    return haystack.split(needle).length - 1;
  },
  indexof_n: (haystack: unknown, needle: unknown) => {
    const text = [...expectString(haystack, "haystack")];
    const search = [...expectString(needle, "needle")];
    if (search.length === 0) throw new BuiltinError("empty search character");
    const found: number[] = [];
    for (let i = 0; i + search.length <= text.length; i++) {
      if (search.every((c, j) => text[i + j] === c)) found.push(i);
    }
    return found;
  },
  "regex.find_n": (pattern: unknown, value: unknown, n: unknown) => {
    const limit = expectNumber(n, "number");
    const matches = [...expectString(value, "value").matchAll(compile(expectString(pattern, "pattern"), "g"))].map((m) => m[0]);
    return limit < 0 ? matches : matches.slice(0, limit);
  },
  "regex.replace": (value: unknown, pattern: unknown, replacement: unknown) => {
    const template = expectString(replacement, "value");
    // Expanded as Go's ReplaceAllString does, not by JavaScript's own rules for "$".
    return expectString(value, "value").replace(compile(expectString(pattern, "pattern"), "g"), (...match: unknown[]) => {
      const named = typeof match.at(-1) === "object" ? (match.at(-1) as Record<string, string | undefined>) : undefined;
      const groups = match.slice(0, named ? -3 : -2) as Array<string | undefined>;
      return expandGo(template, groups, named);
    });
  },
  "regex.template_match": (template: unknown, value: unknown, open: unknown, close: unknown) => {
    const start = expectString(open, "delimiter_start");
    const end = expectString(close, "delimiter_end");
    const text = expectString(template, "template");
    let source = "^";
    let rest = text;
    while (rest.length > 0) {
      const i = rest.indexOf(start);
      if (i < 0) {
        source += rest.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        break;
      }
      const j = rest.indexOf(end, i + start.length);
      if (j < 0) throw new BuiltinError("unbalanced template delimiters");
      source += rest.slice(0, i).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      source += `(?:${rest.slice(i + start.length, j)})`;
      rest = rest.slice(j + end.length);
    }
    return compile(`${source}$`).test(expectString(value, "value"));
  },
};
