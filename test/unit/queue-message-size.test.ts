/**
 * Cutting batches into Queue messages: by UTF-8 size rather than characters,
 * in order, at most so many items a group, and an item over the limit alone.
 */
import { describe, expect, it } from "vitest";
import { cutBySize, utf8Length } from "../../src/queue-message-size";

describe("queue message size", () => {
  it("counts UTF-8 bytes, not characters", () => {
    expect(utf8Length("abc")).toBe(3);
    expect(utf8Length("é")).toBe(2);
    expect(utf8Length("€x")).toBe(4);
    expect(utf8Length("😀")).toBe(4);
  });

  it("cuts in order by size plus each item's overhead, an item over the limit travelling alone", () => {
    const items = ["aaaa", "bbbb", "cccccccccccc", "dd", "ee"];
    // Limit 10, one byte of overhead each: "aaaa"+"bbbb" is 10; the 12-byte item is alone; "dd"+"ee" is 6.
    expect(cutBySize(items, utf8Length, 10)).toEqual([["aaaa", "bbbb"], ["cccccccccccc"], ["dd", "ee"]]);
    // Without overhead the same: 8 bytes, then the large item alone, then 4.
    expect(cutBySize(items, utf8Length, 10, 0)).toEqual([["aaaa", "bbbb"], ["cccccccccccc"], ["dd", "ee"]]);
    expect(cutBySize(["éé", "éé"], utf8Length, 9)).toEqual([["éé"], ["éé"]]);
    expect(cutBySize(["ab", "ab"], utf8Length, 9)).toEqual([["ab", "ab"]]);
    expect(cutBySize([], utf8Length, 9)).toEqual([]);
  });

  it("closes a group at its item cap even when its bytes would allow more", () => {
    const items = Array.from({ length: 250 }, (_, i) => `m${i}`);
    const groups = cutBySize(items, utf8Length, 1_000_000, 0, 100);
    expect(groups.map((g) => g.length)).toEqual([100, 100, 50]);
    expect(groups.flat()).toEqual(items);
  });
});
