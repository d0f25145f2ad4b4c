/**
 * @module semver
 * semver.is_valid and semver.compare per Semantic Versioning 2.0.0, build
 * metadata ignored when comparing. Like OPA, a leading "v" is accepted.
 */
import { BuiltinError, expectString, type Builtin } from "./context";

const SEMVER = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

function parse(text: string) {
  const match = SEMVER.exec(text);
  if (!match) throw new BuiltinError(`invalid semver ${JSON.stringify(text)}`);
  return { core: [match[1], match[2], match[3]].map(BigInt), pre: match[4] ? match[4].split(".") : [] };
}

function compareIdentifiers(a: string, b: string): number {
  const an = /^\d+$/.test(a);
  const bn = /^\d+$/.test(b);
  if (an && bn) return Math.sign(Number(BigInt(a) - BigInt(b)));
  if (an) return -1;
  if (bn) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

export const semverBuiltins: Record<string, Builtin> = {
  "semver.is_valid": (value: unknown) => typeof value === "string" && SEMVER.test(value),
  "semver.compare": (a: unknown, b: unknown) => {
    const x = parse(expectString(a, "a"));
    const y = parse(expectString(b, "b"));
    for (let i = 0; i < 3; i++) if (x.core[i] !== y.core[i]) return x.core[i] < y.core[i] ? -1 : 1;
    if (x.pre.length === 0 || y.pre.length === 0) return x.pre.length === y.pre.length ? 0 : x.pre.length === 0 ? 1 : -1;
    for (let i = 0; i < Math.min(x.pre.length, y.pre.length); i++) {
      const c = compareIdentifiers(x.pre[i], y.pre[i]);
      if (c !== 0) return c;
    }
    return Math.sign(x.pre.length - y.pre.length);
  },
};
