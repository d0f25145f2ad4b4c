/**
 * @module sprintf
 * sprintf as OPA implements it: each operand becomes a Go value first (an
 * integer as int64 or *big.Int, a number written with a fraction or an
 * exponent as float64, a string as itself, anything else as its Rego text),
 * then Go's fmt.Sprintf formats them (go-format.ts).
 */
import { isRawNumber, type RegoValue } from "../rego-value";
import { BuiltinError, expectString, type Builtin } from "./context";
import { goSprintf, type GoOperand } from "./go-format";
import { termText } from "./term-text";

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function operand(value: RegoValue): GoOperand {
  if (typeof value === "string") return { kind: "string", value };
  if (typeof value === "number") {
    return Number.isInteger(value) ? { kind: "int", value: BigInt(value), big: false } : { kind: "float", value };
  }
  if (typeof value === "bigint") return { kind: "int", value, big: value < INT64_MIN || value > INT64_MAX };
  if (isRawNumber(value)) {
    // The text decides: 1.0 and 1e3 are floats to OPA's sprintf, as in Go.
    if (/^-?\d+$/.test(value.rawJSON)) {
      const integer = BigInt(value.rawJSON);
      return { kind: "int", value: integer, big: integer < INT64_MIN || integer > INT64_MAX };
    }
    return { kind: "float", value: Number(value.rawJSON) };
  }
  return { kind: "string", value: termText(value) };
}

export const sprintfBuiltins: Record<string, Builtin> = {
  sprintf: (format: unknown, values: unknown) => {
    const text = expectString(format, "format");
    if (!Array.isArray(values)) throw new BuiltinError("values must be an array");
    return goSprintf(text, (values as RegoValue[]).map(operand));
  },
};
