/**
 * Cases drawn by fast-check where a builtin's domain is wide: unit strings,
 * CIDRs, globs, URIs and numbers. The seed is fixed so a run is repeatable;
 * set BUILTIN_SEED to explore others (the seed in use is reported by the test).
 */
import fc from "fast-check";
import { writeRegoValue } from "../../../src/engine/rego-value.ts";
import type { BuiltinCase } from "../../provided.d.ts";

export const GENERATOR_SEED = Number(process.env.BUILTIN_SEED ?? 20261123);

const runs = (n: number, offset: number) => ({ numRuns: n, seed: GENERATOR_SEED + offset });

const amount = fc.oneof(
  fc.nat({ max: 100000 }).map(String),
  fc.tuple(fc.nat({ max: 999 }), fc.nat({ max: 999 })).map(([a, b]) => `${a}.${b}`),
  fc.tuple(fc.nat({ max: 99 }), fc.constantFrom("e", "E", "e-", "e+"), fc.nat({ max: 25 })).map(([a, e, x]) => `${a}${e}${x}`),
  fc.constantFrom("", ".5", "1.", "-3", "+4", "1e", "1-2"),
);
const unitSuffix = fc.constantFrom("", "k", "K", "ki", "Ki", "KI", "kb", "KB", "kib", "KiB", "m", "M", "mi", "Mi", "MB", "g", "G", "gi", "GiB", "t", "T", "ti", "p", "P", "pi", "e", "E", "ei", "EI", "eib", "x", "b", "mm");
const octet = fc.nat({ max: 255 });
const ipv4 = fc.tuple(octet, octet, octet, octet).map((o) => o.join("."));
const cidr4 = fc.tuple(ipv4, fc.nat({ max: 32 })).map(([ip, prefix]) => `${ip}/${prefix}`);
const narrowCidr4 = fc.tuple(fc.nat({ max: 3 }), fc.nat({ max: 255 }), fc.integer({ min: 22, max: 32 })).map(([b, c, prefix]) => `10.${b}.${c}.0/${prefix}`);
const globPart = fc.constantFrom("a", "b", ".", "a*", "b+", ".*", "[ab]", "[a-c]+", "\\.", "c");
const glob = fc.array(globPart, { minLength: 0, maxLength: 4 }).map((parts) => parts.join(""));
const uriScheme = fc.constantFrom("", "http://", "HTTPS://", "mailto:", "file:///", "//", "ftp://");
const uriHost = fc.constantFrom("", "example.com", "user:pw@h.io", "h:8080", "[::1]", "[::1]:443", "h:port", "a:b:c", "[1.2.3.4]", "%41", "xn--bcher-kva.ch");
const uriPath = fc.constantFrom("", "/", "/a/b", "/a%2Fb", "/sp ace", "/%zz", "/é", "/a?b=c", "/x#frag", "/x#%41", "a:b", "?q=1&r", "/*");
const number = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e30, max: 1e30 }), fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }));

/** A JSON-safe argument: large integers are written into the module as literals. */
const literal = (value: unknown) => (typeof value === "bigint" ? { $rego: value.toString() } : value);

export function generatedCases(): BuiltinCase[] {
  const cases: BuiltinCase[] = [];
  const add = (call: string, samples: unknown[][]) =>
    samples.forEach((args, i) => cases.push({ name: `${call}: generated #${i} ${writeRegoValue(args.map((a) => (a && typeof a === "object" && "$rego" in a ? a.$rego : a)))}`, call, args: args.map(literal) }));
  const units = fc.sample(fc.tuple(amount, unitSuffix).map(([a, u]) => a + u), runs(40, 1));
  add("units.parse", units.map((u) => [u]));
  add("units.parse_bytes", units.map((u) => [u]));
  add("net.cidr_merge", fc.sample(fc.array(fc.oneof(narrowCidr4, cidr4), { minLength: 1, maxLength: 6 }), runs(25, 2)).map((list) => [list]));
  add("net.cidr_is_valid", fc.sample(fc.oneof(cidr4, fc.string({ maxLength: 12 }), ipv4), runs(15, 3)).map((c) => [c]));
  add("net.cidr_contains_matches", fc.sample(fc.tuple(fc.array(narrowCidr4, { minLength: 1, maxLength: 3 }), fc.array(fc.oneof(narrowCidr4, ipv4), { minLength: 1, maxLength: 3 })), runs(10, 4)));
  add("regex.globs_match", fc.sample(fc.tuple(glob, glob), runs(40, 5)));
  add("glob.quote_meta", fc.sample(fc.string({ unit: fc.constantFrom("a", "*", "?", "\\", "[", "]", "{", "}", "é", ".") , maxLength: 8 }), runs(10, 6)).map((s) => [s]));
  const uris = fc.sample(fc.tuple(uriScheme, uriHost, uriPath).map((p) => p.join("")), runs(40, 7));
  add("uri.parse", uris.map((u) => [u]));
  add("uri.is_valid", uris.map((u) => [u]));
  // The values array is written into the module as Rego, so a large integer stays exact.
  add("sprintf", fc.sample(fc.tuple(fc.constantFrom("%v", "%d", "%f", "%.3f", "%e", "%g", "%x", "%s", "%8.2f", "%+d", "%05d"), number), runs(40, 8)).map(([format, n]) => [format, { $rego: writeRegoValue([n]) }]));
  add("strings.split_n", fc.sample(fc.tuple(fc.string({ unit: fc.constantFrom("a", ",", "b", ";"), maxLength: 8 }), fc.constantFrom(",", ";", "", "ab"), fc.integer({ min: -4, max: 4 })), runs(15, 9)));
  return cases;
}
