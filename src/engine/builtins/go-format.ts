/**
 * @module go-format
 * Go's fmt.Sprintf for the operands OPA hands it in sprintf(): int64 or
 * *big.Int for integers, float64 for numbers written with a fraction or an
 * exponent, strings, and every other value as its Rego text. Verbs, flags,
 * width and precision follow Go, including its error notes (`%!d(string=a)`,
 * `%!d(MISSING)`, `%!(EXTRA …)`), because a policy's messages must read the
 * same at the edge as in `opa eval`.
 */
import { goQuote } from "./term-text";

export type GoOperand = { kind: "int"; value: bigint; big: boolean } | { kind: "float"; value: number } | { kind: "string"; value: string };

interface Spec {
  minus: boolean;
  plus: boolean;
  space: boolean;
  zero: boolean;
  sharp: boolean;
  width?: number;
  precision?: number;
}

const typeName = (arg: GoOperand) => (arg.kind === "int" ? (arg.big ? "*big.Int" : "int64") : arg.kind === "float" ? "float64" : "string");

function pad(text: string, spec: Spec, zeroAllowed = true): string {
  if (spec.width === undefined || text.length >= spec.width) return text;
  if (spec.minus) return text.padEnd(spec.width, " ");
  if (spec.zero && zeroAllowed) {
    const sign = /^[+\- ]/.test(text) ? text[0] : "";
    return sign + text.slice(sign.length).padStart(spec.width - sign.length, "0");
  }
  return text.padStart(spec.width, " ");
}

function signed(negative: boolean, digits: string, spec: Spec): string {
  return (negative ? "-" : spec.plus ? "+" : spec.space ? " " : "") + digits;
}

function formatInteger(value: bigint, verb: string, spec: Spec): string {
  const negative = value < 0n;
  const magnitude = negative ? -value : value;
  let digits: string;
  switch (verb) {
    case "b": digits = magnitude.toString(2); break;
    case "o": case "O": digits = magnitude.toString(8); break;
    case "x": digits = magnitude.toString(16); break;
    case "X": digits = magnitude.toString(16).toUpperCase(); break;
    default: digits = magnitude.toString(10);
  }
  if (spec.precision !== undefined) {
    digits = spec.precision === 0 && magnitude === 0n ? "" : digits.padStart(spec.precision, "0");
  }
  if (verb === "O") digits = `0o${digits}`;
  else if (spec.sharp && verb === "o" && !digits.startsWith("0")) digits = `0${digits}`;
  else if (spec.sharp && verb === "x") digits = `0x${digits}`;
  else if (spec.sharp && verb === "X") digits = `0X${digits}`;
  // Go ignores the 0 flag when a precision is given for integers.
  return pad(signed(negative, digits, spec), spec, spec.precision === undefined);
}

/** A double's biased exponent and 52-bit fraction, as IEEE 754 stores them. */
function float64Bits(value: number): { exponentBits: number; fraction: bigint } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(value));
  const bits = view.getBigUint64(0);
  return { exponentBits: Number((bits >> 52n) & 0x7ffn), fraction: bits & ((1n << 52n) - 1n) };
}

/** The exact decimal expansion of a double, as digits and a power of ten. */
function exactDecimal(value: number): { digits: bigint; scale: number } {
  const { exponentBits, fraction } = float64Bits(value);
  let mantissa = fraction;
  let exponent: number;
  if (exponentBits === 0) exponent = -1074;
  else {
    mantissa |= 1n << 52n;
    exponent = exponentBits - 1075;
  }
  if (exponent >= 0) return { digits: mantissa << BigInt(exponent), scale: 0 };
  // m × 2^e = m × 5^-e / 10^-e
  return { digits: mantissa * 5n ** BigInt(-exponent), scale: -exponent };
}

/** Rounds a double to `places` decimals, half to even on its exact value, as Go's strconv does. */
function toFixedExact(value: number, places: number): string {
  const { digits, scale } = exactDecimal(value);
  let rounded: bigint;
  if (scale <= places) rounded = digits * 10n ** BigInt(places - scale);
  else {
    const divisor = 10n ** BigInt(scale - places);
    rounded = digits / divisor;
    const remainder = digits % divisor;
    if (remainder * 2n > divisor || (remainder * 2n === divisor && rounded % 2n === 1n)) rounded += 1n;
  }
  const text = rounded.toString().padStart(places + 1, "0");
  return places === 0 ? text : `${text.slice(0, -places)}.${text.slice(-places)}`;
}

/** %e with a given precision, or the shortest when undefined. */
function toExponent(value: number, precision: number | undefined, upper: boolean): string {
  let text = precision === undefined ? Math.abs(value).toExponential() : exponentialExact(Math.abs(value), precision);
  text = text.replace(/e([+-])(\d)$/, "e$10$2");
  return upper ? text.toUpperCase() : text;
}

function exponentialExact(value: number, precision: number): string {
  if (value === 0) return `${(0).toFixed(precision)}e+00`;
  const { digits, scale } = exactDecimal(value);
  const text = digits.toString();
  const exponent = text.length - 1 - scale;
  // Round the digit string to precision + 1 significant digits, half to even.
  const keep = precision + 1;
  let head = BigInt(text.slice(0, keep).padEnd(keep, "0"));
  const rest = text.slice(keep);
  let exp = exponent;
  if (rest.length > 0) {
    const half = "5".padEnd(rest.length, "0");
    if (rest > half || (rest === half && head % 2n === 1n)) head += 1n;
    if (head.toString().length > keep) {
      head /= 10n;
      exp += 1;
    }
  }
  const mantissa = head.toString();
  const body = precision === 0 ? mantissa : `${mantissa[0]}.${mantissa.slice(1)}`;
  return `${body}e${exp < 0 ? "-" : "+"}${Math.abs(exp)}`;
}

/** A positive double's decimal digits (no trailing zeros) and decimal point position: shortest, or rounded to `significant` digits. */
function decimalDigits(magnitude: number, significant: number | undefined): { digits: string; point: number } {
  const text = significant === undefined ? magnitude.toExponential() : exponentialExact(magnitude, significant - 1);
  const [mantissa, exponent] = text.split("e");
  const digits = mantissa.replace(".", "").replace(/0+$/, "") || "0";
  return { digits, point: Number(exponent) + 1 };
}

/** strconv's %f from decimal digits. */
function fixedFromDigits(digits: string, point: number, places: number): string {
  const whole = point <= 0 ? "0" : digits.slice(0, point).padEnd(point, "0");
  let fraction = "";
  for (let i = 0; i < places; i++) fraction += digits[point + i] ?? "0";
  return places > 0 ? `${whole}.${fraction}` : whole;
}

/** strconv.FormatFloat(v, 'g', precision): %e when the exponent is < -4 or at least the precision (6 when shortest). */
function toGeneral(value: number, precision: number | undefined, upper: boolean): string {
  const magnitude = Math.abs(value);
  if (magnitude === 0) return "0";
  const shortest = precision === undefined;
  let prec = shortest ? 0 : Math.max(precision, 1);
  const { digits, point } = decimalDigits(magnitude, shortest ? undefined : prec);
  if (shortest) prec = digits.length;
  let eprec = prec;
  if (eprec > digits.length && digits.length >= point) eprec = digits.length;
  if (shortest) eprec = 6;
  const exponent = point - 1;
  if (exponent < -4 || exponent >= eprec) {
    const kept = Math.min(prec, digits.length);
    const mantissa = kept > 1 ? `${digits[0]}.${digits.slice(1, kept).padEnd(kept - 1, "0")}` : digits[0];
    const text = `${mantissa}e${exponent < 0 ? "-" : "+"}${String(Math.abs(exponent)).padStart(2, "0")}`;
    return upper ? text.toUpperCase() : text;
  }
  if (prec > point) prec = digits.length;
  return fixedFromDigits(digits, point, Math.max(prec - point, 0));
}

/** Go's %x for a float64: a hexadecimal mantissa and a binary exponent (-0x1.8p+01). */
function toHexFloat(value: number, upper: boolean): string {
  const { exponentBits, fraction } = float64Bits(value);
  let mantissa = fraction;
  let exponent: number;
  if (value === 0) exponent = 0;
  else if (exponentBits === 0) {
    exponent = -1022;
    while (mantissa < 1n << 52n) {
      mantissa <<= 1n;
      exponent--;
    }
    mantissa -= 1n << 52n;
  } else exponent = exponentBits - 1023;
  const hex = mantissa.toString(16).padStart(13, "0").replace(/0+$/, "");
  const text = `0x${value === 0 ? "0" : "1"}${hex ? `.${hex}` : ""}p${exponent < 0 ? "-" : "+"}${String(Math.abs(exponent)).padStart(2, "0")}`;
  return upper ? text.toUpperCase() : text;
}

/** Go's %g of a float64, shortest when no precision is given (what %v prints). */
export function goFloatG(value: number, precision?: number): string {
  return (value < 0 ? "-" : "") + toGeneral(value, precision, false);
}

function formatFloat(value: number, verb: string, spec: Spec): string {
  if (Number.isNaN(value)) return pad("NaN", spec, false);
  if (!Number.isFinite(value)) return pad(signed(value < 0, "Inf", spec), spec, false);
  const negative = value < 0 || Object.is(value, -0);
  let body: string;
  switch (verb) {
    case "f": case "F": body = toFixedExact(Math.abs(value), spec.precision ?? 6); break;
    case "e": case "E": body = toExponent(value, spec.precision ?? 6, verb === "E"); break;
    case "g": case "G": body = toGeneral(value, spec.precision, verb === "G"); break;
    case "x": case "X": body = toHexFloat(value, verb === "X"); break;
    default: body = toGeneral(value, spec.precision, false);
  }
  return pad(signed(negative, body, spec), spec);
}

function formatString(value: string, verb: string, spec: Spec): string {
  let text = spec.precision !== undefined ? [...value].slice(0, spec.precision).join("") : value;
  if (verb === "q") text = goQuote(text);
  else if (verb === "x" || verb === "X") {
    text = [...new TextEncoder().encode(text)].map((b) => b.toString(16).padStart(2, "0")).join(spec.space ? " " : "");
    if (verb === "X") text = text.toUpperCase();
  }
  return pad(text, spec, false);
}

/** Go's note for a verb that does not fit the operand; the value is printed with %v and the same flags. *big.Int writes its own. */
function bad(verb: string, arg: GoOperand, spec: Spec): string {
  if (arg.kind === "int" && arg.big) return `%!${verb}(big.Int=${arg.value})`;
  return `%!${verb}(${typeName(arg)}=${formatOne("v", arg, spec)})`;
}

const blank = (): Spec => ({ minus: false, plus: false, space: false, zero: false, sharp: false });

function formatOne(verb: string, arg: GoOperand, spec: Spec): string {
  if (verb === "T") return pad(typeName(arg), spec, false);
  if (arg.kind === "int") {
    if ("bdoOxXv".includes(verb) || (arg.big && verb === "s")) return formatInteger(arg.value, verb === "v" || verb === "s" ? "d" : verb, spec);
    if (verb === "c" && !arg.big) return pad(String.fromCodePoint(Number(arg.value)), spec, false);
    if (verb === "q" && !arg.big) return pad(`'${String.fromCodePoint(Number(arg.value))}'`, spec, false);
    if (verb === "U" && !arg.big) return pad(`U+${arg.value.toString(16).toUpperCase().padStart(4, "0")}`, spec, false);
    return bad(verb, arg, spec);
  }
  if (arg.kind === "float") {
    if ("eEfFgGvxX".includes(verb)) return formatFloat(arg.value, verb, spec);
    return bad(verb, arg, spec);
  }
  if ("svqxX".includes(verb)) return formatString(arg.value, verb, spec);
  return bad(verb, arg, spec);
}

export function goSprintf(format: string, args: GoOperand[]): string {
  let out = "";
  let next = 0;
  let i = 0;
  while (i < format.length) {
    const c = format[i];
    if (c !== "%") {
      out += c;
      i++;
      continue;
    }
    i++;
    if (i >= format.length) {
      out += "%!(NOVERB)";
      break;
    }
    const spec = blank();
    for (; i < format.length; i++) {
      const flag = format[i];
      if (flag === "-") spec.minus = true;
      else if (flag === "+") spec.plus = true;
      else if (flag === " ") spec.space = true;
      else if (flag === "0") spec.zero = !spec.minus;
      else if (flag === "#") spec.sharp = true;
      else break;
    }
    const width = /^\d+/.exec(format.slice(i));
    if (width) {
      spec.width = Number(width[0]);
      i += width[0].length;
    }
    if (format[i] === ".") {
      i++;
      const precision = /^\d+/.exec(format.slice(i));
      spec.precision = precision ? Number(precision[0]) : 0;
      if (precision) i += precision[0].length;
    }
    const verb = String.fromCodePoint(format.codePointAt(i)!);
    i += verb.length;
    if (verb === "%") {
      out += "%";
      continue;
    }
    if (next >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    out += formatOne(verb, args[next++], spec);
  }
  if (next < args.length) {
    const extra = args.slice(next).map((arg) => `${typeName(arg)}=${arg.kind === "float" ? formatFloat(arg.value, "v", blank()) : String(arg.value)}`);
    out += `%!(EXTRA ${extra.join(", ")})`;
  }
  return out;
}
