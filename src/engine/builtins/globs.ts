/**
 * @module globs
 * glob.quote_meta (gobwas/glob's QuoteMeta) and regex.globs_match, whether
 * two regex-like globs (`.`, `[a-z]`, `*` and `+` after a token, `\` to
 * escape) can match a common string. No JavaScript package decides glob
 * intersection, so this ports the algorithm OPA uses
 * (yashtewari/glob-intersection), quirks included.
 */
import { BuiltinError, expectString, type Builtin } from "./context";

type Flag = "" | "+" | "*";

type Token = { kind: "char"; char: string; flag: Flag } | { kind: "dot"; flag: Flag } | { kind: "set"; chars: Set<string>; flag: Flag };

const KIND_ORDER = { char: 0, dot: 1, set: 2 };

function tokenize(input: string): Token[] {
  const runes = [...input];
  let i = 0;
  const next = (): { char: string; escaped: boolean } | undefined => {
    if (i >= runes.length) return undefined;
    if (runes[i] === "\\") {
      if (i === runes.length - 1) throw new BuiltinError("input ends with a \\ (escape) character");
      i += 2;
      return { char: runes[i - 1], escaped: true };
    }
    return { char: runes[i++], escaped: false };
  };
  const tokens: Token[] = [];
  for (let rune = next(); rune; rune = next()) {
    let token: Token;
    if (!rune.escaped && rune.char === ".") token = { kind: "dot", flag: "" };
    else if (!rune.escaped && rune.char === "]") throw new BuiltinError("set-close ']' with no preceding '['");
    else if (!rune.escaped && rune.char === "[") token = readSet();
    else if (!rune.escaped && (rune.char === "+" || rune.char === "*")) throw new BuiltinError(`flag '${rune.char}' must be preceded by a non-flag`);
    else token = { kind: "char", char: rune.char, flag: "" };
    if (i < runes.length && (runes[i] === "+" || runes[i] === "*")) token.flag = runes[i++] as Flag;
    tokens.push(token);
  }
  return tokens;

  function readSet(): Token {
    const chars = new Set<string>();
    let previous: string | undefined;
    for (let rune = next(); rune; rune = next()) {
      if (!rune.escaped && rune.char === "-") {
        if (previous === undefined) throw new BuiltinError("range character '-' must be preceded by a Unicode character");
        if (i >= runes.length - 1) throw new BuiltinError("range character '-' must be followed by a Unicode character");
        const end = next()!;
        if (!end.escaped && (end.char === "]" || end.char === "-")) throw new BuiltinError("range character '-' cannot be followed by a special symbol");
        const from = previous.codePointAt(0)!;
        const to = end.char.codePointAt(0)!;
        if (to < from) throw new BuiltinError("range is out of order");
        for (let code = from; code <= to; code++) chars.add(String.fromCodePoint(code));
        previous = undefined;
      } else if (!rune.escaped && rune.char === "]") {
        return { kind: "set", chars, flag: "" };
      } else {
        chars.add(rune.char);
        previous = rune.char;
      }
    }
    throw new BuiltinError("found [ without matching ]");
  }
}

function same(a: Token, b: Token): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === "char") return a.char === (b as typeof a).char;
  if (a.kind === "set") {
    const other = (b as typeof a).chars;
    return a.chars.size === other.size && [...a.chars].every((c) => other.has(c));
  }
  return true;
}

/** Adjacent flagged copies of one token collapse into one (`a*a+` is `a+`). */
function simplify(tokens: Token[]): Token[] {
  if (tokens.length === 0) return tokens;
  const simple = [tokens[0]];
  let latest = tokens[0];
  for (const token of tokens.slice(1)) {
    if (token.flag !== "" && latest.flag !== "" && same(token, latest)) {
      simple[simple.length - 1].flag = token.flag === "+" || latest.flag === "+" ? "+" : "*";
      continue;
    }
    latest = token;
    simple.push(token);
  }
  return simple;
}

function match(x: Token, y: Token): boolean {
  const [a, b] = KIND_ORDER[x.kind] <= KIND_ORDER[y.kind] ? [x, y] : [y, x];
  if (a.kind === "char") {
    if (b.kind === "char") return a.char === b.char;
    if (b.kind === "dot") return true;
    return (b as { chars: Set<string> }).chars.has(a.char);
  }
  if (a.kind === "dot") return true;
  const other = (b as { chars: Set<string> }).chars;
  return [...a.chars].some((c) => other.has(c));
}

function trim(g1: Token[], g2: Token[]): [Token[], Token[]] | undefined {
  let l = 0;
  for (; l < g1.length && l < g2.length && g1[l].flag === "" && g2[l].flag === ""; l++) {
    if (!match(g1[l], g2[l])) return undefined;
  }
  if (l > 0) l--;
  let r1 = g1.length - 1;
  let r2 = g2.length - 1;
  for (; r1 >= 0 && r1 >= l && r2 >= 0 && r2 >= l && g1[r1].flag === "" && g2[r2].flag === ""; r1--, r2--) {
    if (!match(g1[r1], g2[r2])) return undefined;
  }
  if (r1 < g1.length - 1) {
    r1++;
    r2++;
  }
  return [g1.slice(l, r1 + 1), g2.slice(l, r2 + 1)];
}

function intersectNormal(g1: Token[], g2: Token[]): boolean {
  let i = 0;
  let j = 0;
  for (; i < g1.length && j < g2.length; i++, j++) {
    if (g1[i].flag === "" && g2[j].flag === "") {
      if (!match(g1[i], g2[j])) return false;
    } else {
      return intersectSpecial(g1.slice(i), g2.slice(j));
    }
  }
  return i === g1.length && j === g2.length;
}

function intersectSpecial(g1: Token[], g2: Token[]): boolean {
  if (g1[0].flag !== "") return g1[0].flag === "+" ? intersectPlus(g1, g2) : intersectStar(g1, g2);
  if (g2[0].flag === "+") return intersectPlus(g2, g1);
  if (g2[0].flag === "*") return intersectStar(g2, g1);
  return false;
}

function intersectPlus(plussed: Token[], other: Token[]): boolean {
  if (!match(plussed[0], other[0])) return false;
  if (intersectStar(plussed, other.slice(1))) return true;
  return other[0].flag !== "" && intersectNormal(plussed.slice(1), other);
}

function intersectStar(starred: Token[], other: Token[]): boolean {
  const star = starred[0];
  const following = starred[1];
  for (let i = 0; i < other.length; i++) {
    const token = other[i];
    if (following !== undefined && match(token, following)) {
      if (intersectNormal(starred.slice(1), other.slice(i))) return true;
      if (!match(token, star)) return false;
    } else if (!match(token, star)) {
      return false;
    }
  }
  return following === undefined;
}

function globsIntersect(lhs: string, rhs: string): boolean {
  const trimmed = trim(simplify(tokenize(lhs)), simplify(tokenize(rhs)));
  return trimmed !== undefined && intersectNormal(...trimmed);
}

/** gobwas/glob's special characters. */
const GLOB_SPECIALS = /[*?\\[\]{}]/g;

export const globBuiltins: Record<string, Builtin> = {
  "glob.quote_meta": (pattern: unknown) => expectString(pattern, "pattern").replace(GLOB_SPECIALS, "\\$&"),
  "regex.globs_match": (a: unknown, b: unknown) => globsIntersect(expectString(a, "glob1"), expectString(b, "glob2")),
};
