/**
 * @module go-template
 * strings.render_template: Go's text/template over the variables object, as
 * OPA runs it. OPA hands the template Go values decoded from JSON with
 * numbers kept as json.Number, a string type: numbers print as written, are
 * true unless empty, and compare equal only to strings. Supported: text,
 * comments, trim markers, fields and variables, pipelines, parenthesised
 * arguments, if/else if/else, range (with variables and else), with, the
 * functions and, or, not, len, index, print, printf, println, eq, ne, lt, le,
 * gt, ge, html, js and urlquery; define, template and block; break and
 * continue. A missing value prints "<undefined>".
 */
import { compareStrings, isRawNumber, numberText, type RegoValue } from "../rego-value";
import { BuiltinError, expectString, isPlainObject, type Builtin } from "./context";
import { goSprintf, type GoOperand } from "./go-format";

/** A Go value as the template sees it: json.Number is a distinct (string) kind. */
type GoValue = null | undefined | boolean | string | JsonNumber | GoValue[] | { [key: string]: GoValue };

class JsonNumber {
  constructor(readonly text: string) {}
}

function toGo(value: RegoValue): GoValue {
  if (typeof value === "number" || typeof value === "bigint" || isRawNumber(value)) return new JsonNumber(numberText(value));
  if (Array.isArray(value)) return value.map(toGo);
  if (value instanceof Set) return [...value].map(toGo);
  if (value instanceof Map) throw new BuiltinError("object keys must be strings");
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toGo(v)]));
  return value;
}

/** fmt's %v of a decoded JSON value. */
function show(value: GoValue): string {
  if (value === undefined) return "<no value>";
  if (value === null) return "<nil>";
  if (value instanceof JsonNumber) return value.text;
  if (typeof value === "boolean" || typeof value === "string") return String(value);
  if (Array.isArray(value)) return `[${value.map(show).join(" ")}]`;
  const keys = Object.keys(value).sort(compareStrings);
  return `map[${keys.map((k) => `${k}:${show(value[k])}`).join(" ")}]`;
}

function truth(value: GoValue): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === "boolean") return value;
  if (typeof value === "string") return value.length > 0;
  if (value instanceof JsonNumber) return value.text.length > 0;
  if (Array.isArray(value)) return value.length > 0;
  return Object.keys(value).length > 0;
}

// ---- lexing and parsing ----

type Node =
  | { kind: "text"; text: string }
  | { kind: "action"; pipe: Pipeline }
  | { kind: "template"; name: string; pipe?: Pipeline }
  | { kind: "break" }
  | { kind: "continue" }
  | { kind: "if" | "with"; pipe: Pipeline; then: Node[]; otherwise: Node[] }
  | { kind: "range"; pipe: Pipeline; then: Node[]; otherwise: Node[] };

interface Pipeline {
  declarations: string[];
  commands: Term[][];
}

type Term =
  | { kind: "field"; path: string[]; base?: string }
  | { kind: "variable"; name: string; path: string[] }
  | { kind: "literal"; value: GoValue | number }
  | { kind: "identifier"; name: string }
  | { kind: "pipe"; pipe: Pipeline; path: string[] };

/** The template's text and actions, with {{- and -}} trimming the text beside them. */
function lex(source: string): Array<{ text: string } | { action: string }> {
  const items: Array<{ text: string } | { action: string }> = [];
  let at = 0;
  while (at < source.length) {
    const open = source.indexOf("{{", at);
    if (open < 0) {
      items.push({ text: source.slice(at) });
      break;
    }
    let text = source.slice(at, open);
    let start = open + 2;
    if (source.startsWith("- ", start) || source.startsWith("-\t", start) || source.startsWith("-\n", start)) {
      text = text.replace(/\s+$/, "");
      start += 1;
    }
    items.push({ text });
    const close = findClose(source, start);
    let end = close;
    let next = close + 2;
    if (source[close - 1] === "-" && /\s/.test(source[close - 2] ?? "")) {
      end = close - 1;
      while (next < source.length && /\s/.test(source[next])) next++;
    }
    items.push({ action: source.slice(start, end).trim() });
    at = next;
  }
  return items;
}

function findClose(source: string, from: number): number {
  let quote: string | undefined;
  for (let i = from; i < source.length; i++) {
    const c = source[i];
    if (quote) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "`" || c === "'") quote = c;
    else if (source.startsWith("}}", i)) return i;
  }
  throw new BuiltinError("template: unclosed action");
}

function tokens(action: string): string[] {
  const out: string[] = [];
  const pattern = /\s*("(?:[^"\\]|\\.)*"|`[^`]*`|'(?:[^'\\]|\\.)*'|:=|=|\||\(|\)|,|[^\s|()=,:]+(?::(?!=)[^\s|()=,:]*)*)/gy;
  let match: RegExpExecArray | null;
  while ((match = pattern.exec(action)) !== null) {
    if (match[1] === undefined) break;
    out.push(match[1]);
    if (pattern.lastIndex >= action.length) break;
  }
  if (action.slice(pattern.lastIndex).trim() !== "" && out.join("").length === 0) throw new BuiltinError("template: bad action");
  return out;
}

function parsePipeline(words: string[]): Pipeline {
  let at = 0;
  const declarations: string[] = [];
  // "$x :=" or "$i, $v :=" declare variables for the pipeline's value.
  const assign = words.findIndex((w) => w === ":=" || w === "=");
  if (assign > 0 && words.slice(0, assign).every((w) => w.startsWith("$") || w === ",")) {
    declarations.push(...words.slice(0, assign).filter((w) => w !== ","));
    at = assign + 1;
  }
  const commands: Term[][] = [[]];
  while (at < words.length) {
    const word = words[at];
    if (word === "|") {
      commands.push([]);
      at++;
      continue;
    }
    if (word === "(") {
      let depth = 1;
      let end = at + 1;
      while (end < words.length && depth > 0) {
        if (words[end] === "(") depth++;
        if (words[end] === ")") depth--;
        end++;
      }
      const inner = parsePipeline(words.slice(at + 1, end - 1));
      commands[commands.length - 1].push({ kind: "pipe", pipe: inner, path: [] });
      at = end;
      continue;
    }
    commands[commands.length - 1].push(parseTerm(word));
    at++;
  }
  if (commands.some((command) => command.length === 0)) throw new BuiltinError("template: missing command in pipeline");
  return { declarations, commands };
}

function unquote(word: string): string {
  if (word.startsWith("`")) return word.slice(1, -1);
  try {
    return JSON.parse(word) as string;
  } catch {
    throw new BuiltinError(`template: bad string ${word}`);
  }
}

function parseTerm(word: string): Term {
  if (word === ".") return { kind: "field", path: [] };
  if (word.startsWith(".")) return { kind: "field", path: word.slice(1).split(".") };
  if (word.startsWith("$")) {
    const [name, ...path] = word.split(".");
    return { kind: "variable", name, path };
  }
  if (word.startsWith('"') || word.startsWith("`")) return { kind: "literal", value: unquote(word) };
  if (word.startsWith("'")) return { kind: "literal", value: new JsonNumber(String(unquote(`"${word.slice(1, -1)}"`).codePointAt(0))) };
  if (word === "true" || word === "false") return { kind: "literal", value: word === "true" };
  if (word === "nil") return { kind: "literal", value: null };
  if (/^[-+]?(\d|\.\d)/.test(word)) {
    const number = Number(word);
    if (Number.isNaN(number)) throw new BuiltinError(`template: bad number ${word}`);
    return { kind: "literal", value: number };
  }
  if (/^[A-Za-z_]\w*$/.test(word)) return { kind: "identifier", name: word };
  throw new BuiltinError(`template: unexpected ${word}`);
}

interface Parsed {
  nodes: Node[];
  /** Templates named by define and block. */
  templates: Map<string, Node[]>;
}

function parse(source: string): Parsed {
  const items = lex(source);
  const templates = new Map<string, Node[]>();
  let at = 0;
  let rangeDepth = 0;
  const block = (stops: string[]): { nodes: Node[]; stop: string; stopAction: string } => {
    const nodes: Node[] = [];
    while (at < items.length) {
      const item = items[at++];
      if ("text" in item) {
        if (item.text) nodes.push({ kind: "text", text: item.text });
        continue;
      }
      const action = item.action;
      if (action.startsWith("/*")) continue;
      const [keyword] = action.split(/\s+/);
      if (stops.includes(keyword)) return { nodes, stop: keyword, stopAction: action };
      if (keyword === "if" || keyword === "with" || keyword === "range") {
        nodes.push(control(keyword, action.slice(keyword.length)));
        continue;
      }
      if (keyword === "define" || keyword === "block" || keyword === "template") {
        const [nameWord, ...rest] = tokens(action.slice(keyword.length));
        if (!nameWord || !/^["`]/.test(nameWord)) throw new BuiltinError(`template: {{${keyword}}} needs a quoted name`);
        const name = unquote(nameWord);
        if (keyword !== "define") nodes.push({ kind: "template", name, pipe: rest.length > 0 ? parsePipeline(rest) : undefined });
        if (keyword !== "template") templates.set(name, block(["end"]).nodes);
        continue;
      }
      if ((keyword === "break" || keyword === "continue") && action === keyword) {
        if (rangeDepth === 0) throw new BuiltinError(`template: {{${keyword}}} outside {{range}}`);
        nodes.push({ kind: keyword });
        continue;
      }
      if (["end", "else", "break", "continue"].includes(keyword)) throw new BuiltinError(`template: unexpected {{${keyword}}}`);
      nodes.push({ kind: "action", pipe: parsePipeline(tokens(action)) });
    }
    if (stops.length > 0) throw new BuiltinError("template: unexpected EOF");
    return { nodes, stop: "", stopAction: "" };
  };
  const control = (kind: "if" | "with" | "range", rest: string): Node => {
    const pipe = parsePipeline(tokens(rest));
    if (kind === "range") rangeDepth++;
    const body = block(["else", "end"]);
    if (kind === "range") rangeDepth--;
    let otherwise: Node[] = [];
    if (body.stop === "else") {
      const elseRest = body.stopAction.slice(4).trim();
      if (elseRest.startsWith("if ") && kind === "if") otherwise = [control("if", elseRest.slice(2))];
      else if (elseRest.startsWith("with ") && kind === "with") otherwise = [control("with", elseRest.slice(4))];
      else otherwise = block(["end"]).nodes;
    }
    return { kind, pipe, then: body.nodes, otherwise } as Node;
  };
  return { nodes: block([]).nodes, templates };
}

// ---- execution ----

interface Scope {
  dot: GoValue;
  variables: Array<[string, GoValue]>;
  templates: Map<string, Node[]>;
}

/** {{break}} and {{continue}} unwind to their range. */
class LoopSignal {
  constructor(readonly kind: "break" | "continue") {}
}

function lookup(scope: Scope, name: string): GoValue {
  for (let i = scope.variables.length - 1; i >= 0; i--) if (scope.variables[i][0] === name) return scope.variables[i][1];
  throw new BuiltinError(`template: undefined variable ${name}`);
}

function field(value: GoValue, path: string[]): GoValue {
  let current = value;
  for (const name of path) {
    // A missing key is Go's zero value, and a field of it is too.
    if (current === undefined || current === null) return undefined;
    if (typeof current !== "object" || Array.isArray(current) || current instanceof JsonNumber) throw new BuiltinError(`template: can't evaluate field ${name}`);
    current = current[name];
  }
  return current;
}

const comparable = (value: GoValue | number): string => {
  if (typeof value === "number") return "int";
  if (value instanceof JsonNumber) return "json.Number";
  if (value === null || value === undefined) return "nil";
  return Array.isArray(value) ? "slice" : typeof value === "object" ? "map" : typeof value;
};

function compare(a: GoValue | number, b: GoValue | number): number {
  const kind = comparable(a);
  if (kind !== comparable(b)) throw new BuiltinError("template: incompatible types for comparison");
  const x = a instanceof JsonNumber ? a.text : a;
  const y = b instanceof JsonNumber ? b.text : b;
  if (typeof x === "number" || typeof x === "boolean") return x === y ? 0 : (x as number) < (y as number) ? -1 : 1;
  if (typeof x === "string") return compareStrings(x, y as string);
  throw new BuiltinError("template: invalid type for comparison");
}

function goOperand(value: GoValue | number): GoOperand {
  if (typeof value === "number") return Number.isInteger(value) ? { kind: "int", value: BigInt(value), big: false } : { kind: "float", value };
  if (typeof value === "string") return { kind: "string", value };
  return { kind: "string", value: show(value as GoValue) };
}

const escapeHtml = (text: string) => text.replace(/[<>&'"\0]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&#39;", '"': "&#34;", "\0": "\uFFFD" })[c]!);

const FUNCTIONS: Record<string, (...args: Array<GoValue | number>) => GoValue | number> = {
  and: (...args) => args.find((a) => !truth(a as GoValue)) ?? args[args.length - 1],
  or: (...args) => args.find((a) => truth(a as GoValue)) ?? args[args.length - 1],
  not: (a) => !truth(a as GoValue),
  len: (a) => {
    if (typeof a === "string") return new TextEncoder().encode(a).length;
    if (a instanceof JsonNumber) return a.text.length;
    if (Array.isArray(a)) return a.length;
    if (a && typeof a === "object") return Object.keys(a).length;
    throw new BuiltinError("template: len of unsupported type");
  },
  index: (collection, ...keys) => {
    let current = collection as GoValue;
    for (const key of keys) {
      if (Array.isArray(current)) {
        const i = key instanceof JsonNumber ? Number(key.text) : (key as number);
        if (typeof i !== "number" || i < 0 || i >= current.length) throw new BuiltinError("template: index out of range");
        current = current[i];
      } else if (current && typeof current === "object" && !(current instanceof JsonNumber)) {
        current = current[String(key)];
      } else throw new BuiltinError("template: can't index item");
    }
    return current;
  },
  print: (...args) => args.map((a, i) => `${i > 0 && typeof a !== "string" && typeof args[i - 1] !== "string" ? " " : ""}${typeof a === "number" ? String(a) : show(a)}`).join(""),
  println: (...args) => `${args.map((a) => (typeof a === "number" ? String(a) : show(a))).join(" ")}\n`,
  printf: (format, ...args) => goSprintf(String(format), args.map(goOperand)),
  eq: (a, ...rest) => rest.some((b) => compare(a, b) === 0),
  ne: (a, b) => compare(a, b) !== 0,
  lt: (a, b) => compare(a, b) < 0,
  le: (a, b) => compare(a, b) <= 0,
  gt: (a, b) => compare(a, b) > 0,
  ge: (a, b) => compare(a, b) >= 0,
  html: (...args) => escapeHtml(args.map((a) => (typeof a === "number" ? String(a) : show(a))).join("")),
  urlquery: (...args) => encodeURIComponent(args.map((a) => (typeof a === "number" ? String(a) : show(a))).join("")).replace(/%20/g, "+").replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
  js: (...args) =>
    args
      .map((a) => (typeof a === "number" ? String(a) : show(a)))
      .join("")
      .replace(/[\\'"<>&=\n\r\t]/g, (c) => ({ "\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E", "&": "\\u0026", "=": "\\u003D", "\n": "\\n", "\r": "\\r", "\t": "\\t" })[c]!),
};

function evaluateTerm(term: Term, scope: Scope): GoValue | number {
  switch (term.kind) {
    case "field":
      return field(scope.dot, term.path);
    case "variable":
      return field(lookup(scope, term.name), term.path);
    case "literal":
      return term.value;
    case "pipe":
      return field(run(term.pipe, scope) as GoValue, term.path);
    case "identifier":
      if (!FUNCTIONS[term.name]) throw new BuiltinError(`template: function "${term.name}" not defined`);
      return FUNCTIONS[term.name]();
  }
}

function run(pipe: Pipeline, scope: Scope): GoValue | number {
  let result: GoValue | number | undefined;
  let first = true;
  for (const command of pipe.commands) {
    const [head, ...rest] = command;
    const args = rest.map((term) => evaluateTerm(term, scope));
    if (!first) args.push(result as GoValue);
    if (head.kind === "identifier") {
      const fn = FUNCTIONS[head.name];
      if (!fn) throw new BuiltinError(`template: function "${head.name}" not defined`);
      result = fn(...args);
    } else {
      if (args.length > 0) throw new BuiltinError("template: can't give argument to non-function");
      result = evaluateTerm(head, scope);
    }
    first = false;
  }
  return result as GoValue | number;
}

function execute(nodes: Node[], scope: Scope, out: string[]): void {
  for (const node of nodes) {
    if (node.kind === "text") {
      out.push(node.text);
      continue;
    }
    if (node.kind === "break" || node.kind === "continue") throw new LoopSignal(node.kind);
    if (node.kind === "template") {
      const body = scope.templates.get(node.name);
      if (!body) throw new BuiltinError(`template: no such template "${node.name}"`);
      // A template runs with its own variables: only $, set to its dot.
      const dot = node.pipe ? (run(node.pipe, scope) as GoValue) : null;
      execute(body, { dot, variables: [["$", dot]], templates: scope.templates }, out);
      continue;
    }
    const value = run(node.pipe, scope);
    if (node.kind === "action") {
      if (node.pipe.declarations.length > 0) scope.variables.push([node.pipe.declarations[0], value as GoValue]);
      // A nil value printed by itself is Go's "<no value>" (inside a map or slice, fmt writes <nil>).
      else out.push(typeof value === "number" ? String(value) : value === null ? "<no value>" : show(value));
    } else if (node.kind === "if") {
      execute(truth(value as GoValue) ? node.then : node.otherwise, scope, out);
    } else if (node.kind === "with") {
      if (truth(value as GoValue)) execute(node.then, { ...scope, dot: value as GoValue, variables: [...scope.variables] }, out);
      else execute(node.otherwise, scope, out);
    } else {
      const items: Array<[GoValue | number, GoValue]> = Array.isArray(value)
        ? value.map((v, i) => [i, v])
        : value && typeof value === "object" && !(value instanceof JsonNumber)
          ? Object.keys(value).sort(compareStrings).map((k) => [k, (value as Record<string, GoValue>)[k]])
          : [];
      if (typeof value === "number" || value instanceof JsonNumber || typeof value === "string") throw new BuiltinError("template: range can't iterate over that");
      if (items.length === 0) execute(node.otherwise, scope, out);
      for (const [key, item] of items) {
        const variables = [...scope.variables];
        const [first, second] = node.pipe.declarations;
        if (second) variables.push([first, key as GoValue], [second, item]);
        else if (first) variables.push([first, item]);
        try {
          execute(node.then, { ...scope, dot: item, variables }, out);
        } catch (signal) {
          if (!(signal instanceof LoopSignal)) throw signal;
          if (signal.kind === "break") break;
        }
      }
    }
  }
}

export const templateBuiltins: Record<string, Builtin> = {
  "strings.render_template": (template: unknown, variables: unknown) => {
    const source = expectString(template, "template");
    if (!isPlainObject(variables)) throw new BuiltinError("template variables must be an object");
    const data = toGo(variables);
    const out: string[] = [];
    const { nodes, templates } = parse(source);
    execute(nodes, { dot: data, variables: [["$", data]], templates }, out);
    return out.join("").replaceAll("<no value>", "<undefined>");
  },
};
