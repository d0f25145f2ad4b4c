/**
 * @module units
 * units.parse ("1.5Ki" → 1536, "100m" → 0.1, "4E2G" → 400000000000) and
 * units.parse_bytes ("10KB" → 10000, "1e-2KB" → 10), computed as OPA does:
 * units.parse in exact rationals (with "m" as the double nearest 0.001, and
 * a non-integer printed with 10 decimals), units.parse_bytes in big.Float's
 * 64-bit mantissa, truncated to an integer. Results beyond 2^53 stay exact.
 */
import { rawNumber } from "../rego-value";
import { BuiltinError, exactInteger, expectString, type Builtin } from "./context";

/** A non-negative-denominator rational. */
interface Rational {
  num: bigint;
  den: bigint;
}

const KI = 1n << 10n;
const BINARY: Record<string, bigint> = { ki: KI, mi: KI ** 2n, gi: KI ** 3n, ti: KI ** 4n, pi: KI ** 5n, ei: KI ** 6n };
const DECIMAL: Record<string, bigint> = { k: 10n ** 3n, m: 10n ** 6n, g: 10n ** 9n, t: 10n ** 12n, p: 10n ** 15n, e: 10n ** 18n };

/** units.parse_bytes' units, lower-cased: "k"/"kb" decimal, "ki"/"kib" binary. */
const BYTE_UNITS: Record<string, bigint> = {
  "": 1n,
  ...Object.fromEntries(Object.entries(DECIMAL).flatMap(([unit, factor]) => [[unit, factor], [`${unit}b`, factor]])),
  ...Object.fromEntries(Object.entries(BINARY).flatMap(([unit, factor]) => [[unit, factor], [`${unit}b`, factor]])),
};

/** The exact value of the double nearest 0.001: what Go's big.Rat.SetFloat64(0.001) holds. */
const MILLI: Rational = { num: 1152921504606847n, den: 1n << 60n };

const MAX_EXPONENT_DIGITS = 6;

/** OPA's extractNumAndUnit: the number is digits, '.', signs and an exponent; the rest is the unit. */
function splitAmount(text: string): { amount: string; unit: string } {
  const isDigit = (c: string | undefined) => c !== undefined && c >= "0" && c <= "9";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (!isDigit(c) && c !== "." && c !== "e" && c !== "E" && c !== "+" && c !== "-") return { amount: text.slice(0, i), unit: text.slice(i) };
    if (c === "e" || c === "E") {
      const next = text[i + 1];
      if (i === text.length - 1 || (!isDigit(next) && next !== "+" && next !== "-")) return { amount: text.slice(0, i), unit: text.slice(i) };
      if (next === "+" || next === "-") i++;
      let end = i + 1;
      while (isDigit(text[end])) end++;
      if (end - (i + 1) > MAX_EXPONENT_DIGITS) throw new BuiltinError("exponent too large");
    }
  }
  return { amount: text, unit: "" };
}

/** Go's big.Rat/big.Float SetString for a decimal with an optional exponent. */
function parseDecimal(text: string): Rational {
  const match = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!match || (match[2] === "" && (match[3] ?? "") === "")) throw new BuiltinError("could not parse amount to a number");
  const [, sign, whole, fraction = "", exponentText = "0"] = match;
  let num = BigInt(`${whole}${fraction}` || "0");
  if (sign === "-") num = -num;
  const exponent = Number(exponentText) - fraction.length;
  return exponent >= 0 ? { num: num * 10n ** BigInt(exponent), den: 1n } : { num, den: 10n ** BigInt(-exponent) };
}

function multiply(a: Rational, b: Rational): Rational {
  return { num: a.num * b.num, den: a.den * b.den };
}

/** Go's Rat.FloatString(10): rounded to nearest, halves away from zero. */
function floatString(value: Rational, places: number): string {
  const negative = value.num < 0n;
  const magnitude = negative ? -value.num : value.num;
  const scale = 10n ** BigInt(places);
  let scaled = (magnitude * scale) / value.den;
  if (((magnitude * scale) % value.den) * 2n >= value.den) scaled += 1n;
  const digits = scaled.toString().padStart(places + 1, "0");
  return `${negative ? "-" : ""}${digits.slice(0, -places)}.${digits.slice(-places)}`;
}

/** Rounds a rational to a 64-bit binary mantissa, half to even, as big.Float does at precision 64. */
function toFloat64Bits(value: Rational): Rational {
  if (value.num === 0n) return value;
  const negative = value.num < 0n;
  const magnitude = negative ? -value.num : value.num;
  // Find e with 2^63 <= magnitude / den / 2^e < 2^64.
  let e = magnitude.toString(2).length - value.den.toString(2).length - 64;
  const quotient = (shift: number) => (shift >= 0 ? magnitude / (value.den << BigInt(shift)) : (magnitude << BigInt(-shift)) / value.den);
  while (quotient(e) >= 1n << 64n) e++;
  while (quotient(e) < 1n << 63n) e--;
  const [n, d] = e >= 0 ? [magnitude, value.den << BigInt(e)] : [magnitude << BigInt(-e), value.den];
  let mantissa = n / d;
  const remainder = n % d;
  if (remainder * 2n > d || (remainder * 2n === d && mantissa % 2n === 1n)) mantissa += 1n;
  const signed = negative ? -mantissa : mantissa;
  return e >= 0 ? { num: signed << BigInt(e), den: 1n } : { num: signed, den: 1n << BigInt(-e) };
}

function parseBytes(text: string): bigint {
  const clean = text.toLowerCase().replace(/"/g, "");
  if (clean.includes(" ")) throw new BuiltinError("spaces not allowed in resource strings");
  const { amount, unit } = splitAmount(clean);
  if (amount === "") throw new BuiltinError("no byte amount provided");
  const multiplier = BYTE_UNITS[unit];
  if (multiplier === undefined) throw new BuiltinError(`byte unit ${unit} not recognized`);
  const product = toFloat64Bits(multiply(toFloat64Bits(parseDecimal(amount)), { num: multiplier, den: 1n }));
  return product.num / product.den;
}

function parseUnits(text: string): unknown {
  const clean = text.replace(/"/g, "");
  if (clean.includes(" ")) throw new BuiltinError("spaces not allowed in resource strings");
  const split = splitAmount(clean);
  if (split.amount === "") throw new BuiltinError("no amount provided");
  // Only the unit's first letter keeps its case, so "m" (milli) and "M" (mega) differ but "KI" is "Ki".
  const unit = split.unit.length > 1 ? split.unit[0] + split.unit.slice(1).toLowerCase() : split.unit;
  let multiplier: Rational;
  if (unit === "m") multiplier = MILLI;
  else if (unit === "") multiplier = { num: 1n, den: 1n };
  else if (unit === "M") multiplier = { num: DECIMAL.m, den: 1n };
  else {
    const lower = unit.toLowerCase();
    const factor = BINARY[lower] ?? (unit.length === 1 ? DECIMAL[lower] : undefined);
    if (factor === undefined) throw new BuiltinError(`unit ${unit} not recognized`);
    multiplier = { num: factor, den: 1n };
  }
  const value = multiply(parseDecimal(split.amount), multiplier);
  if (value.num % value.den === 0n) return exactInteger(value.num / value.den);
  return rawNumber(floatString(value, 10));
}

export const unitBuiltins: Record<string, Builtin> = {
  "units.parse_bytes": (value: unknown) => exactInteger(parseBytes(expectString(value, "x"))),
  "units.parse": (value: unknown) => parseUnits(expectString(value, "x")),
};
