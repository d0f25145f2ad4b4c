/**
 * @module units
 * units.parse ("1.5Ki" → 1536, "100m" → 0.1) and units.parse_bytes
 * ("10KB" → 10000, case-insensitive, integer result), with OPA's unit tables.
 */
import { BuiltinError, expectString, type Builtin } from "./context";

const BYTE_UNITS: Record<string, number> = {
  "": 1, k: 1e3, kb: 1e3, ki: 2 ** 10, kib: 2 ** 10, m: 1e6, mb: 1e6, mi: 2 ** 20, mib: 2 ** 20,
  g: 1e9, gb: 1e9, gi: 2 ** 30, gib: 2 ** 30, t: 1e12, tb: 1e12, ti: 2 ** 40, tib: 2 ** 40,
  p: 1e15, pb: 1e15, pi: 2 ** 50, pib: 2 ** 50, e: 1e18, eb: 1e18, ei: 2 ** 60, eib: 2 ** 60,
};

const SI_UNITS: Record<string, number> = {
  "": 1, m: 1e-3, k: 1e3, K: 1e3, ki: 2 ** 10, Ki: 2 ** 10, M: 1e6, mi: 2 ** 20, Mi: 2 ** 20,
  g: 1e9, G: 1e9, gi: 2 ** 30, Gi: 2 ** 30, t: 1e12, T: 1e12, ti: 2 ** 40, Ti: 2 ** 40,
  p: 1e15, P: 1e15, pi: 2 ** 50, Pi: 2 ** 50, e: 1e18, E: 1e18, ei: 2 ** 60, Ei: 2 ** 60,
};

function split(text: string): [string, string] {
  if (text.includes(" ")) throw new BuiltinError("spaces not allowed in resource strings");
  const match = /^[0-9.]*/.exec(text)!;
  const number = match[0];
  if (number === "" || !/^(\d+\.?\d*|\.\d+)$/.test(number)) throw new BuiltinError(`no amount provided in ${JSON.stringify(text)}`);
  return [number, text.slice(number.length)];
}

export const unitBuiltins: Record<string, Builtin> = {
  "units.parse_bytes": (value: unknown) => {
    const [number, unit] = split(expectString(value, "x").replace(/"/g, "").toLowerCase());
    const multiplier = BYTE_UNITS[unit];
    if (multiplier === undefined) throw new BuiltinError(`byte unit ${unit} not recognized`);
    return Math.trunc(Number(number) * multiplier);
  },
  "units.parse": (value: unknown) => {
    const [number, unit] = split(expectString(value, "x").replace(/"/g, ""));
    const multiplier = SI_UNITS[unit];
    if (multiplier === undefined) throw new BuiltinError(`unit ${unit} not recognized`);
    return Number(number) * multiplier;
  },
};
