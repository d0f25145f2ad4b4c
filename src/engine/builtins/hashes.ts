/**
 * @module hashes
 * crypto.md5/sha1/sha256 and crypto.hmac.*. Builtins are synchronous and
 * WebCrypto is not, so these use node:crypto, which workerd provides
 * synchronously under nodejs_compat.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { Buffer } from "node:buffer";
import { expectString, type Builtin } from "./context";

const hash = (algorithm: string) => (value: unknown) =>
  createHash(algorithm).update(expectString(value, "input"), "utf8").digest("hex");

const hmac = (algorithm: string) => (message: unknown, key: unknown) =>
  createHmac(algorithm, expectString(key, "key")).update(expectString(message, "message"), "utf8").digest("hex");

export const hashBuiltins: Record<string, Builtin> = {
  "crypto.md5": hash("md5"),
  "crypto.sha1": hash("sha1"),
  "crypto.sha256": hash("sha256"),
  "crypto.hmac.md5": hmac("md5"),
  "crypto.hmac.sha1": hmac("sha1"),
  "crypto.hmac.sha256": hmac("sha256"),
  "crypto.hmac.sha512": hmac("sha512"),
  "crypto.hmac.equal": (a: unknown, b: unknown) => {
    const left = Buffer.from(expectString(a, "mac1"), "utf8");
    const right = Buffer.from(expectString(b, "mac2"), "utf8");
    return left.length === right.length && timingSafeEqual(left, right);
  },
};
