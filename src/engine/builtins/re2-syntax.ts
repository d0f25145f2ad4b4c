/**
 * @module re2-syntax
 * Go's RE2 regex syntax, as OPA's regex builtins read it, written as a
 * JavaScript RegExp for the builtins the wasm runtime leaves to the host
 * (regex.split, regex.find_n, regex.replace, regex.template_match). The two
 * agree on most syntax, and where they do not, a pattern must not quietly
 * mean something else here, or fail to compile here alone, because a rule
 * built on it would then stop firing at the edge while it fires in OPA:
 *
 * - leading flags `(?i)`, `(?s)`, `(?m)` become the RegExp's flags;
 * - `.` without `s` is any character but `\n` (JavaScript's also leaves out
 *   `\r`, U+2028 and U+2029), and `\s` is Go's six ASCII spaces (JavaScript's
 *   takes in every Unicode space);
 * - `\A` and `\z` anchor at the text's ends whatever `m` says; `\Q…\E` is
 *   literal; `[[:alpha:]]` and the other ASCII classes are spelled out;
 *   `\pL` is `\p{L}`; `(?P<name>…)` is `(?<name>…)`.
 *
 * What cannot be written faithfully (flags in mid-pattern, `(?U)`, `\C`, a
 * negated ASCII class or `\S` inside brackets) stops the evaluation
 * (UnsupportedPattern): OPA would answer, so undefined here would be another
 * answer, and the edge refuses the input instead. A replacement is expanded as
 * Go's Regexp.Expand does (expandGo).
 */
import { BuiltinCannotAnswer } from "./context";

/** A pattern OPA runs that cannot be written as a RegExp meaning the same: the evaluation stops (see BuiltinCannotAnswer). */
export class UnsupportedPattern extends BuiltinCannotAnswer {}

const ASCII_CLASSES: Record<string, string> = {
  alnum: "0-9A-Za-z",
  alpha: "A-Za-z",
  ascii: "\\x00-\\x7f",
  blank: "\\t ",
  cntrl: "\\x00-\\x1f\\x7f",
  digit: "0-9",
  graph: "\\x21-\\x7e",
  lower: "a-z",
  print: "\\x20-\\x7e",
  punct: "!-\\/:-@\\[-`{-~",
  space: "\\t\\n\\v\\f\\r ",
  upper: "A-Z",
  word: "0-9A-Za-z_",
  xdigit: "0-9A-Fa-f",
};

const GO_SPACES = "\\t\\n\\f\\r ";
const escapeLiteral = (text: string) => text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");

/** The pattern as a JavaScript RegExp's source and flags (always Unicode-aware, as Go's matching is). */
export function translateRe2(pattern: string): { source: string; flags: string } {
  let flags = "";
  let i = 0;
  // Flags that open the pattern apply to all of it: those a RegExp can carry.
  for (let lead = /^\(\?([imsU]+)\)/.exec(pattern.slice(i)); lead; lead = /^\(\?([imsU]+)\)/.exec(pattern.slice(i))) {
    if (lead[1].includes("U")) throw new UnsupportedPattern("(?U) has no JavaScript equivalent");
    for (const flag of lead[1]) if (!flags.includes(flag)) flags += flag;
    i += lead[0].length;
  }
  const dotAll = flags.includes("s");
  let out = "";
  let inClass = false;
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === "\\") {
      const next = pattern[i + 1];
      if (next === undefined) throw new UnsupportedPattern("trailing backslash");
      if (next === "Q") {
        const end = pattern.indexOf("\\E", i + 2);
        const literal = pattern.slice(i + 2, end < 0 ? pattern.length : end);
        out += inClass ? literal.replace(/[\]\\^-]/g, "\\$&") : escapeLiteral(literal);
        i = end < 0 ? pattern.length : end + 2;
        continue;
      }
      if (next === "A" && !inClass) out += "(?<![\\s\\S])";
      else if (next === "z" && !inClass) out += "(?![\\s\\S])";
      else if (next === "s") out += inClass ? GO_SPACES : `[${GO_SPACES}]`;
      else if (next === "S") {
        if (inClass) throw new UnsupportedPattern("\\S inside brackets");
        out += `[^${GO_SPACES}]`;
      } else if (next === "p" || next === "P") {
        // A Unicode class, \p{Greek} as it is and \pL as \p{L}.
        const end = pattern[i + 2] === "{" ? pattern.indexOf("}", i + 3) : i + 2;
        if (end < 0 || end >= pattern.length) throw new UnsupportedPattern("\\p without a class");
        const name = pattern[i + 2] === "{" ? pattern.slice(i + 3, end) : pattern[end];
        // Go's \p{^Greek} is negated; a general category (L, Lu) or Any stands alone, a script is Script=Greek.
        const negated = name.startsWith("^");
        const bare = negated ? name.slice(1) : name;
        const property = /^([A-Z][a-z]?|Any)$/.test(bare) ? bare : `Script=${bare}`;
        out += `\\${(next === "P") !== negated ? "P" : "p"}{${property}}`;
        i = end + 1;
        continue;
      } else if (next === "C") throw new UnsupportedPattern("\\C has no JavaScript equivalent");
      else if (next === "a") out += "\\x07";
      else if (next === "x" && pattern[i + 2] === "{") {
        const end = pattern.indexOf("}", i + 3);
        if (end < 0) throw new UnsupportedPattern("unclosed \\x{");
        out += `\\u{${pattern.slice(i + 3, end)}}`;
        i = end + 1;
        continue;
      } else if (/[0-7]/.test(next)) {
        // Go's octal character code, up to three digits (JavaScript would read \1 as a back-reference).
        const digits = /^[0-7]{1,3}/.exec(pattern.slice(i + 1))![0];
        out += `\\u{${parseInt(digits, 8).toString(16)}}`;
        i += 1 + digits.length;
        continue;
      } else if (/[^A-Za-z0-9]/.test(next)) {
        // Go lets any punctuation be escaped; a Unicode RegExp only its syntax characters ("-" in brackets).
        out += (inClass ? /[\]\\^-]/ : /[$()*+./?[\\\]^{|}]/).test(next) ? c + next : next;
      } else out += c + next;
      i += 2;
      continue;
    }
    if (inClass) {
      const ascii = /^\[:(\^?)([a-z]+):\]/.exec(pattern.slice(i));
      if (ascii) {
        const spelled = ASCII_CLASSES[ascii[2]];
        if (!spelled || ascii[1] === "^") throw new UnsupportedPattern(`[:${ascii[1]}${ascii[2]}:] inside brackets`);
        out += spelled;
        i += ascii[0].length;
        continue;
      }
      if (c === "]") inClass = false;
      else if (c === "[") {
        // A bracket inside brackets is literal in Go; in a Unicode RegExp it must be escaped.
        out += "\\[";
        i++;
        continue;
      }
      out += c;
      i++;
      continue;
    }
    if (c === "[") {
      inClass = true;
      out += c;
      // A "]" right after "[" or "[^" is a literal member in Go.
      const negated = pattern[i + 1] === "^";
      if (negated) out += "^";
      const first = i + (negated ? 2 : 1);
      i = first;
      if (pattern[first] === "]") {
        out += "\\]";
        i++;
      }
      continue;
    }
    if (c === "(" && pattern[i + 1] === "?") {
      const rest = pattern.slice(i + 2);
      if (rest.startsWith("P<")) {
        out += "(?<";
        i += 4;
        continue;
      }
      if (/^[imsU-]+[:)]/.test(rest)) throw new UnsupportedPattern("flags in mid-pattern have no JavaScript equivalent");
    }
    if (c === "{" || c === "}") {
      // A repetition is copied whole; any other brace is a literal in Go and a syntax error in a Unicode RegExp.
      const repeat = c === "{" ? /^\{\d+(,\d*)?\}/.exec(pattern.slice(i)) : null;
      out += repeat ? repeat[0] : `\\${c}`;
      i += repeat ? repeat[0].length : 1;
      continue;
    }
    if (c === "." && !dotAll) out += "[^\\n]";
    else out += c;
    i++;
  }
  if (inClass) throw new UnsupportedPattern("unclosed brackets");
  return { source: out, flags: flags.replace("s", "") + (dotAll ? "s" : "") };
}

/**
 * Go's Regexp.Expand for a replacement: `$name` takes the longest run of
 * letters, digits and underscores, `${name}` is explicit, a name of digits
 * is a group's number, a group that did not take part (or does not exist)
 * is empty, and `$$` is a dollar. (JavaScript's `$1x` is group 1 and "x";
 * Go's is the group named "1x", so empty.)
 */
export function expandGo(template: string, groups: Array<string | undefined>, named: Record<string, string | undefined> | undefined): string {
  let out = "";
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (c !== "$") {
      out += c;
      continue;
    }
    const rest = template.slice(i + 1);
    if (rest.startsWith("$")) {
      out += "$";
      i++;
      continue;
    }
    const braced = /^\{(\w+)\}/.exec(rest);
    const bare = braced ? undefined : /^\w+/.exec(rest);
    const name = braced ? braced[1] : bare?.[0];
    if (name === undefined) {
      out += "$";
      continue;
    }
    i += braced ? braced[0].length : name.length;
    if (/^\d+$/.test(name)) out += groups[Number(name)] ?? "";
    else out += (named && Object.hasOwn(named, name) ? named[name] : undefined) ?? "";
  }
  return out;
}
