/**
 * @module random
 * uuid.rfc4122, uuid.parse and rand.intn. OPA answers the same for the same
 * key within one query, so results are memoised in the evaluation's memo.
 */
import { BuiltinError, expectNumber, expectString, type Builtin, type BuiltinContext } from "./context";

export function randomBuiltins(context: BuiltinContext): Record<string, Builtin> {
  const memo = <T>(key: string, make: () => T): T => {
    if (!context.memo.has(key)) context.memo.set(key, make());
    return context.memo.get(key) as T;
  };
  return {
    "uuid.rfc4122": (key: unknown) => memo(`uuid:${expectString(key, "k")}`, () => crypto.randomUUID()),
    "uuid.parse": (value: unknown) => {
      const text = expectString(value, "uuid").toLowerCase().replace(/^urn:uuid:/, "").replace(/^\{(.*)\}$/, "$1");
      const hex = text.replace(/-/g, "");
      if (!/^[0-9a-f]{32}$/.test(hex) || (text.includes("-") && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(text))) {
        throw new BuiltinError("invalid uuid");
      }
      const variantBits = parseInt(hex[16], 16);
      const variant = variantBits < 8 ? "Reserved, NCS backward compatibility" : variantBits < 12 ? "RFC4122" : variantBits < 14 ? "Reserved, Microsoft Corporation backward compatibility" : "Reserved, reserved for future definition";
      return { version: parseInt(hex[12], 16), variant };
    },
    "rand.intn": (key: unknown, n: unknown) => {
      const limit = Math.abs(Math.trunc(expectNumber(n, "n")));
      return memo(`rand:${expectString(key, "str")}:${limit}`, () => {
        if (limit === 0) return 0;
        const buffer = new Uint32Array(1);
        crypto.getRandomValues(buffer);
        return buffer[0] % limit;
      });
    },
  };
}
