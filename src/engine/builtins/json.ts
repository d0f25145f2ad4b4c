/**
 * @module json
 * json.patch (RFC 6902), json.marshal_with_options and numbers.range_step.
 * Marshalling follows Go's encoding/json as OPA uses it: object keys sorted,
 * and <, > and & escaped as \u003c, \u003e and \u0026.
 */
import { compareRegoValues, compareStrings, isRegoNumber, numberText, type RegoValue } from "../rego-value";
import { BuiltinError, expectNumber, type Builtin } from "./context";
import { ownMember, setMember } from "../../own-members";

function goJson(value: unknown, indent: string, prefix: string, depth = 0): string {
  if (isRegoNumber(value)) return numberText(value);
  // OPA turns a set into an array in its sort order before marshalling.
  if (value instanceof Set) value = [...value].sort(compareRegoValues);
  const newline = indent || prefix ? `\n${prefix}${indent.repeat(depth + 1)}` : "";
  const closing = indent || prefix ? `\n${prefix}${indent.repeat(depth)}` : "";
  const separator = indent || prefix ? ": " : ":";
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return `[${value.map((v) => newline + goJson(v, indent, prefix, depth + 1)).join(",")}${closing}]`;
  }
  if (value && typeof value === "object") {
    const keys = Object.keys(value).sort(compareStrings);
    if (keys.length === 0) return "{}";
    const body = keys.map((k) => `${newline}${escapeHtml(JSON.stringify(k))}${separator}${goJson((value as Record<string, unknown>)[k], indent, prefix, depth + 1)}`);
    return `{${body.join(",")}${closing}}`;
  }
  return escapeHtml(JSON.stringify(value));
}

/** Go's json.Marshal of a value: compact, keys sorted, HTML characters escaped. */
export function goJsonMarshal(value: unknown): string {
  return goJson(value, "", "");
}

function escapeHtml(json: string): string {
  return json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

type Json = unknown;

function pointer(path: unknown): string[] {
  if (Array.isArray(path)) return path.map(String);
  if (typeof path !== "string") throw new BuiltinError("patch path must be a string or array");
  if (path === "") return [];
  if (!path.startsWith("/")) throw new BuiltinError(`invalid JSON pointer ${JSON.stringify(path)}`);
  return path.slice(1).split("/").map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/** A deep copy of arrays and objects; numbers of every kind, sets and maps are kept as they are (never mutated). */
function clone(value: Json): Json {
  if (Array.isArray(value)) return value.map(clone);
  if (value && typeof value === "object" && !isRegoNumber(value) && !(value instanceof Set) && !(value instanceof Map)) {
    const copy: Record<string, Json> = {};
    for (const [k, v] of Object.entries(value)) Object.defineProperty(copy, k, { value: clone(v), enumerable: true, writable: true, configurable: true });
    return copy;
  }
  return value;
}

function getAt(doc: Json, path: string[]): Json {
  let node = doc;
  for (const key of path) {
    if (Array.isArray(node)) node = node[Number(key)];
    else if (node && typeof node === "object") node = ownMember(node as Record<string, Json>, key);
    else return undefined;
  }
  return node;
}

function parentOf(doc: Json, path: string[]): { parent: Json; key: string } {
  if (path.length === 0) throw new BuiltinError("cannot address the document root here");
  const parent = getAt(doc, path.slice(0, -1));
  if (parent === undefined || parent === null || typeof parent !== "object") throw new BuiltinError(`no parent for /${path.join("/")}`);
  return { parent, key: path[path.length - 1] };
}

function add(doc: Json, path: string[], value: Json): Json {
  if (path.length === 0) return value;
  const { parent, key } = parentOf(doc, path);
  if (Array.isArray(parent)) {
    const index = key === "-" ? parent.length : Number(key);
    if (!/^\d+$/.test(key) && key !== "-") throw new BuiltinError(`invalid array index ${key}`);
    if (index > parent.length) throw new BuiltinError(`array index ${key} out of range`);
    parent.splice(index, 0, value);
  } else {
    setMember(parent as Record<string, Json>, key, value);
  }
  return doc;
}

function remove(doc: Json, path: string[]): Json {
  const { parent, key } = parentOf(doc, path);
  if (Array.isArray(parent)) {
    const index = Number(key);
    if (!/^\d+$/.test(key) || index >= parent.length) throw new BuiltinError(`array index ${key} out of range`);
    parent.splice(index, 1);
  } else {
    if (!Object.hasOwn(parent as object, key)) throw new BuiltinError(`no member ${key} to remove`);
    delete (parent as Record<string, Json>)[key];
  }
  return doc;
}

function applyPatch(document: Json, patches: unknown): Json {
  if (!Array.isArray(patches)) throw new BuiltinError("patches must be an array");
  let doc = clone(document);
  for (const op of patches as Array<Record<string, unknown>>) {
    const path = pointer(op.path);
    switch (op.op) {
      case "add": doc = add(doc, path, clone(op.value)); break;
      case "remove": doc = remove(doc, path); break;
      case "replace": doc = path.length === 0 ? clone(op.value) : add(remove(doc, path), path, clone(op.value)); break;
      case "move": {
        const from = pointer(op.from);
        const value = getAt(doc, from);
        if (value === undefined) throw new BuiltinError("move source missing");
        doc = add(remove(doc, from), path, value);
        break;
      }
      case "copy": {
        const value = getAt(doc, pointer(op.from));
        if (value === undefined) throw new BuiltinError("copy source missing");
        doc = add(doc, path, clone(value));
        break;
      }
      case "test":
        if (getAt(doc, path) === undefined || compareRegoValues(getAt(doc, path) as RegoValue, op.value as RegoValue) !== 0) throw new BuiltinError("test failed");
        break;
      default:
        throw new BuiltinError(`unknown patch op ${String(op.op)}`);
    }
  }
  return doc;
}


export const jsonBuiltins: Record<string, Builtin> = {
  "json.patch": applyPatch,
  "json.marshal_with_options": (value: unknown, options: unknown) => {
    const opts = (options ?? {}) as { pretty?: boolean; indent?: string; prefix?: string };
    const pretty = opts.pretty ?? (opts.indent !== undefined || opts.prefix !== undefined);
    if (!pretty) return goJson(value, "", "");
    // Go's MarshalIndent starts the first line with the prefix too.
    return (opts.prefix ?? "") + goJson(value, opts.indent ?? "\t", opts.prefix ?? "");
  },
  "numbers.range_step": (a: unknown, b: unknown, step: unknown) => {
    const from = expectNumber(a, "a");
    const to = expectNumber(b, "b");
    const by = expectNumber(step, "step");
    if (!Number.isInteger(from) || !Number.isInteger(to) || !Number.isInteger(by) || by <= 0) {
      throw new BuiltinError("numbers.range_step needs integers and a positive step");
    }
    const out: number[] = [];
    if (from <= to) for (let n = from; n <= to; n += by) out.push(n);
    else for (let n = from; n >= to; n -= by) out.push(n);
    return out;
  },
};
