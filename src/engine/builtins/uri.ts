/**
 * @module uri
 * uri.parse and uri.is_valid, which OPA answers with Go's net/url.Parse:
 * this follows its parse (scheme, opaque form, authority, host and port
 * checks, percent-decoding per component, RawPath only when the path's
 * escaping is not Go's default) byte for byte on the UTF-8 text. WHATWG's
 * URL, which JavaScript has, accepts and normalises differently.
 */
import { BuiltinError, expectString, type Builtin } from "./context";
import { parseIPv4, parseIPv6 } from "./net";

type Mode = "path" | "host" | "zone" | "userPassword" | "fragment";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const isAlphaNumeric = (c: number) => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39);
const isHex = (c: number) => (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
const unhex = (c: number) => (c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10);

/** Go's shouldEscape. */
function shouldEscape(c: number, mode: Mode): boolean {
  if (isAlphaNumeric(c)) return false;
  const ch = String.fromCharCode(c);
  if ((mode === "host" || mode === "zone") && "!$&'()*+,;=:[]<>\"".includes(ch)) return false;
  if ("-_.~".includes(ch)) return false;
  if ("$&+,/:;=?@".includes(ch)) {
    if (mode === "path") return ch === "?";
    if (mode === "userPassword") return "@/?:".includes(ch);
    if (mode === "fragment") return false;
  }
  if (mode === "fragment" && "!()*".includes(ch)) return false;
  return true;
}

/** Go's unescape: every % must be followed by two hex digits; hosts may escape only non-ASCII bytes. */
function unescape(text: string, mode: Mode): string {
  const bytes = encoder.encode(text);
  let escapes = 0;
  for (let i = 0; i < bytes.length; ) {
    const c = bytes[i];
    if (c === 0x25) {
      escapes++;
      if (i + 2 >= bytes.length || !isHex(bytes[i + 1]) || !isHex(bytes[i + 2])) throw new BuiltinError("invalid URL escape");
      const code = (unhex(bytes[i + 1]) << 4) | unhex(bytes[i + 2]);
      const isPercent = code === 0x25;
      if (mode === "host" && unhex(bytes[i + 1]) < 8 && !isPercent) throw new BuiltinError("invalid URL escape");
      if (mode === "zone" && !isPercent && code !== 0x20 && shouldEscape(code, "host")) throw new BuiltinError("invalid URL escape");
      i += 3;
    } else {
      if ((mode === "host" || mode === "zone") && c < 0x80 && shouldEscape(c, mode)) throw new BuiltinError(`invalid character in host name`);
      i++;
    }
  }
  if (escapes === 0) return text;
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x25) {
      out.push((unhex(bytes[i + 1]) << 4) | unhex(bytes[i + 2]));
      i += 2;
    } else out.push(bytes[i]);
  }
  return decoder.decode(new Uint8Array(out));
}

function escape(text: string, mode: Mode): string {
  let out = "";
  for (const c of encoder.encode(text)) out += shouldEscape(c, mode) ? `%${c.toString(16).toUpperCase().padStart(2, "0")}` : String.fromCharCode(c);
  return out;
}

const validOptionalPort = (port: string) => port === "" || /^:\d*$/.test(port);

function parseHost(scheme: string, host: string): string {
  const open = host.lastIndexOf("[");
  if (open > 0) throw new BuiltinError("invalid IP-literal");
  if (open === 0) {
    const close = host.lastIndexOf("]");
    if (close < 0) throw new BuiltinError("missing ']' in host");
    const colonPort = host.slice(close + 1);
    if (!validOptionalPort(colonPort)) throw new BuiltinError(`invalid port ${JSON.stringify(colonPort)} after host`);
    const hostname = host.slice(1, close);
    const zone = hostname.indexOf("%25");
    const literal = zone >= 0 ? unescape(hostname.slice(0, zone), "host") + unescape(hostname.slice(zone), "zone") : unescape(hostname, "host");
    const address = literal.split("%")[0];
    if (parseIPv6(address) === undefined || parseIPv4(address) !== undefined) throw new BuiltinError("invalid IP-literal");
    return `[${literal}]${unescape(colonPort, "host")}`;
  }
  let colon = host.indexOf(":");
  if (colon !== -1) {
    const last = host.lastIndexOf(":");
    // Go accepts several colons (host lists) except in http(s) URLs.
    if (last !== colon && scheme !== "http" && scheme !== "https") colon = last;
    const colonPort = host.slice(colon);
    if (!validOptionalPort(colonPort)) throw new BuiltinError(`invalid port ${JSON.stringify(colonPort)} after host`);
  }
  return unescape(host, "host");
}

const validUserinfo = (text: string) => /^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/.test(text);

/** Go's url.URL fields. */
export interface ParsedUrl {
  scheme: string;
  opaque: string;
  hasUser: boolean;
  host: string;
  path: string;
  rawPath: string;
  omitHost: boolean;
  forceQuery: boolean;
  rawQuery: string;
  fragment: string;
  rawFragment: string;
}

function getScheme(raw: string): { scheme: string; rest: string } {
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (/[a-zA-Z]/.test(c)) continue;
    if (/[0-9+\-.]/.test(c)) {
      if (i === 0) return { scheme: "", rest: raw };
      continue;
    }
    if (c === ":") {
      if (i === 0) throw new BuiltinError("missing protocol scheme");
      return { scheme: raw.slice(0, i), rest: raw.slice(i + 1) };
    }
    return { scheme: "", rest: raw };
  }
  return { scheme: "", rest: raw };
}

/** Go's url.Parse. */
export function parseUrl(raw: string): ParsedUrl {
  const hash = raw.indexOf("#");
  const [main, fragmentText] = hash >= 0 ? [raw.slice(0, hash), raw.slice(hash + 1)] : [raw, ""];
  if (/[\x00-\x1f\x7f]/.test(main)) throw new BuiltinError("net/url: invalid control character in URL");
  const url: ParsedUrl = { scheme: "", opaque: "", hasUser: false, host: "", path: "", rawPath: "", omitHost: false, forceQuery: false, rawQuery: "", fragment: "", rawFragment: "" };
  if (main === "*") url.path = "*";
  else {
    const { scheme, rest: afterScheme } = getScheme(main);
    url.scheme = scheme.toLowerCase();
    let rest = afterScheme;
    if (rest.endsWith("?") && rest.split("?").length === 2) {
      url.forceQuery = true;
      rest = rest.slice(0, -1);
    } else {
      const q = rest.indexOf("?");
      if (q >= 0) {
        url.rawQuery = rest.slice(q + 1);
        rest = rest.slice(0, q);
      }
    }
    let opaque = false;
    if (!rest.startsWith("/")) {
      if (url.scheme !== "") {
        opaque = true;
        url.opaque = rest;
      }
      else if (rest.split("/")[0].includes(":")) throw new BuiltinError("first path segment in URL cannot contain colon");
    }
    if (!opaque) {
      if ((url.scheme !== "" || !rest.startsWith("///")) && rest.startsWith("//")) {
        let authority = rest.slice(2);
        rest = "";
        const slash = authority.indexOf("/");
        if (slash >= 0) {
          rest = authority.slice(slash);
          authority = authority.slice(0, slash);
        }
        const at = authority.lastIndexOf("@");
        url.host = parseHost(url.scheme, at < 0 ? authority : authority.slice(at + 1));
        if (at >= 0) {
          url.hasUser = true;
          const userinfo = authority.slice(0, at);
          if (!validUserinfo(userinfo)) throw new BuiltinError("net/url: invalid userinfo");
          for (const part of userinfo.includes(":") ? userinfo.split(/:(.*)/s, 2) : [userinfo]) unescape(part, "userPassword");
        }
      } else if (url.scheme !== "" && rest.startsWith("/")) {
        url.omitHost = true;
      }
      url.path = unescape(rest, "path");
      url.rawPath = escape(url.path, "path") === rest ? "" : rest;
    }
  }
  if (fragmentText !== "") {
    url.fragment = unescape(fragmentText, "fragment");
    url.rawFragment = escape(url.fragment, "fragment") === fragmentText ? "" : fragmentText;
  }
  return url;
}

/** Go's URL.EscapedPath: the raw path when it is a valid escaping of the path, else Go's escaping of it. */
export function escapedPath(url: ParsedUrl): string {
  const validEncoded = [...encoder.encode(url.rawPath)].every((c) => "!$&'()*+,;=:@[]%".includes(String.fromCharCode(c)) || !shouldEscape(c, "path"));
  if (url.rawPath && validEncoded) {
    try {
      if (unescape(url.rawPath, "path") === url.path) return url.rawPath;
    } catch {
      // not a valid escaping: fall through to Go's own
    }
  }
  if (url.path === "*") return "*";
  return escape(url.path, "path");
}

/** Go's splitHostPort: a port only when it is numeric; brackets dropped from the host. */
function splitHostPort(hostPort: string): { hostname: string; port: string } {
  let hostname = hostPort;
  let port = "";
  const colon = hostname.lastIndexOf(":");
  if (colon !== -1 && validOptionalPort(hostname.slice(colon))) {
    port = hostname.slice(colon + 1);
    hostname = hostname.slice(0, colon);
  }
  if (hostname.startsWith("[") && hostname.endsWith("]")) hostname = hostname.slice(1, -1);
  return { hostname, port };
}

export const uriBuiltins: Record<string, Builtin> = {
  "uri.parse": (value: unknown) => {
    const url = parseUrl(expectString(value, "uri"));
    const { hostname, port } = splitHostPort(url.host);
    const result: Record<string, string> = {};
    if (url.scheme) result.scheme = url.scheme;
    if (hostname) result.hostname = hostname;
    if (port) result.port = port;
    if (url.path) {
      result.path = url.path;
      result.raw_path = url.rawPath || url.path;
    }
    if (url.rawQuery) result.raw_query = url.rawQuery;
    if (url.fragment) result.fragment = url.fragment;
    return result;
  },
  "uri.is_valid": (value: unknown) => {
    if (typeof value !== "string" || value === "") return false;
    try {
      parseUrl(value);
      return true;
    } catch {
      return false;
    }
  },
};
