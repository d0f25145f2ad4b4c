/**
 * @module encoding
 * hex, unpadded base64url and URL query encoding, the encodings OPA's wasm
 * runtime leaves to the host. URL encoding follows Go's url.QueryEscape
 * (space as "+"), which is what OPA uses. Written with TextEncoder and
 * btoa only, so the agent SDK's local evaluator has them in a browser too.
 */
import { toBase64Url } from "../../../packages/agent/src/base64url.ts";
import { toHex } from "../../../packages/agent/src/hex.ts";
import { compareRegoValues } from "../rego-value";
import { BuiltinError, expectString, type Builtin } from "./context";
import { ownMember, setMember } from "../../own-members";

const utf8 = new TextEncoder();
const text = new TextDecoder();

function fromHex(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

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
  "hex.encode": (value: unknown) => toHex(utf8.encode(expectString(value, "input"))),
  "hex.decode": (value: unknown) => {
    const hex = expectString(value, "input");
    if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new BuiltinError("invalid hex");
    // Bytes that are not UTF-8 are replaced with U+FFFD.
    return text.decode(fromHex(hex));
  },
  "base64url.encode_no_pad": (value: unknown) => toBase64Url(utf8.encode(expectString(value, "input"))),
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
      const name = queryUnescape(key);
      const values = ownMember(result, name);
      if (values) values.push(queryUnescape(val));
      else setMember(result, name, [queryUnescape(val)]);
    }
    return result;
  },
};
