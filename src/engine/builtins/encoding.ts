/**
 * @module encoding
 * hex, unpadded base64url and URL query encoding, the encodings OPA's wasm
 * runtime leaves to the host. URL encoding follows Go's url.QueryEscape
 * (space as "+"), which is what OPA uses.
 */
import { Buffer } from "node:buffer";
import { compareRegoValues } from "../rego-value";
import { BuiltinError, expectString, type Builtin } from "./context";

function queryEscape(value: string): string {
  return encodeURIComponent(value)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, "+");
}

function queryUnescape(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, " "));
  } catch {
    throw new BuiltinError(`invalid URL escape in ${JSON.stringify(value)}`);
  }
}

export const encodingBuiltins: Record<string, Builtin> = {
  "hex.encode": (value: unknown) => Buffer.from(expectString(value, "input"), "utf8").toString("hex"),
  "hex.decode": (value: unknown) => {
    const text = expectString(value, "input");
    if (!/^([0-9a-fA-F]{2})*$/.test(text)) throw new BuiltinError("invalid hex");
    return Buffer.from(text, "hex").toString("utf8");
  },
  "base64url.encode_no_pad": (value: unknown) => Buffer.from(expectString(value, "input"), "utf8").toString("base64url"),
  "urlquery.encode": (value: unknown) => queryEscape(expectString(value, "input")),
  "urlquery.decode": (value: unknown) => queryUnescape(expectString(value, "input")),
  "urlquery.encode_object": (object: unknown) => {
    if (typeof object !== "object" || object === null || Array.isArray(object)) throw new BuiltinError("object expected");
    const parts: string[] = [];
    for (const key of Object.keys(object).sort()) {
      const value = (object as Record<string, unknown>)[key];
      const values = Array.isArray(value) ? value : value instanceof Set ? [...value].sort(compareRegoValues) : [value];
      for (const item of values) parts.push(`${queryEscape(key)}=${queryEscape(expectString(item, "value"))}`);
    }
    return parts.join("&");
  },
  "urlquery.decode_object": (value: unknown) => {
    const result: Record<string, string[]> = {};
    for (const part of expectString(value, "input").split("&")) {
      if (part === "") continue;
      const [key, val = ""] = part.split(/=(.*)/s);
      (result[queryUnescape(key)] ??= []).push(queryUnescape(val));
    }
    return result;
  },
};
