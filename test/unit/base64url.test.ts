/**
 * The edge encodes with the runtime's own base64url encoder and the agent
 * SDK, in runtimes without one, with the portable one: both must write the
 * same text for the same bytes, and the strict decoder must read it back.
 */
import { describe, expect, it } from "vitest";
import { fromBase64UrlStrict, toBase64Url, toBase64UrlPortable } from "../../packages/agent/src/base64url";

describe("base64url", () => {
  it("is encoded here by the runtime's own encoder", () => {
    expect(typeof (Uint8Array.prototype as { toBase64?: unknown }).toBase64).toBe("function");
  });

  it("writes what the portable encoder writes, for every length and byte, and reads back", () => {
    for (let length = 0; length <= 70; length++) {
      const bytes = crypto.getRandomValues(new Uint8Array(length));
      // Bytes that map to the two characters base64url changes (62 and 63: "-" and "_").
      if (length >= 3) bytes.set([0xfb, 0xff, 0xbf], 0);
      const encoded = toBase64Url(bytes);
      expect(encoded).toBe(toBase64UrlPortable(bytes));
      expect(encoded).toMatch(/^[A-Za-z0-9_-]*$/);
      expect(fromBase64UrlStrict(encoded)).toEqual(bytes);
    }
    expect(toBase64Url(new Uint8Array([0xfb, 0xff]))).toBe("-_8");
  });
});
