/**
 * @module yaml
 * yaml.marshal, yaml.unmarshal and yaml.is_valid. OPA goes through JSON
 * (a value is marshalled as its JSON form, YAML is read into JSON), so sets
 * become sorted arrays and object keys are written in order. OPA reads and
 * writes YAML 1.2 (go-yaml v3, two-space indent), as the `yaml` package does.
 */
import { Document, isScalar, parseDocument, visit } from "yaml";
import { compareRegoValues, compareStrings, isRegoNumber, numberText, rawNumber, type RegoValue } from "../rego-value";
import { BuiltinError, expectString, type Builtin } from "./context";

/** A value as plain JSON data for the YAML writer (numbers kept exact through raw text). */
function asJsonData(value: RegoValue): unknown {
  if (isRegoNumber(value)) return typeof value === "number" ? value : Number(numberText(value));
  if (Array.isArray(value)) return value.map(asJsonData);
  if (value instanceof Set) return [...value].sort(compareRegoValues).map(asJsonData);
  if (value instanceof Map) throw new BuiltinError("object keys must be strings");
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.keys(value).sort(compareStrings).map((k) => [k, asJsonData((value as Record<string, RegoValue>)[k])]));
  }
  return value;
}

/**
 * go-yaml v3 writes a string plainly unless it would read back as something
 * else: a null, bool (YAML 1.1's yes/no/on/off too) or number is double-quoted,
 * anything else needing quotes is single-quoted.
 */
const READS_AS_OTHER = /^(~|null|Null|NULL|true|True|TRUE|false|False|FALSE|y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF|[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)|0x[0-9a-fA-F_]+|0o?[0-7_]+|0b[01_]+|)$/;

function marshal(value: unknown): string {
  const document = new Document(value);
  visit(document, {
    Scalar(_key, node) {
      if (isScalar(node) && typeof node.value === "string" && READS_AS_OTHER.test(node.value)) node.type = "QUOTE_DOUBLE";
    },
  });
  return document.toString({ lineWidth: 0, singleQuote: true });
}

function parse(text: string): unknown {
  // go-yaml reads a repeated key without complaint (the last one wins).
  const document = parseDocument(text, { uniqueKeys: false, intAsBigInt: true });
  if (document.errors.length > 0) throw new BuiltinError(`yaml: ${document.errors[0].message}`);
  return fromYaml(document.toJS({ maxAliasCount: 100 }));
}

/** YAML's integers arrive as bigints; the rest is JSON data already. */
function fromYaml(value: unknown): RegoValue {
  if (typeof value === "bigint") return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new BuiltinError("yaml: number not representable in JSON");
    return Number.isInteger(value) ? rawNumber(String(value)) : value;
  }
  if (value instanceof Date) return value.toISOString().replace(".000Z", "Z");
  if (Array.isArray(value)) return value.map(fromYaml);
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), fromYaml(v)]));
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromYaml(v)]));
  return (value ?? null) as RegoValue;
}

export const yamlBuiltins: Record<string, Builtin> = {
  "yaml.marshal": (value: unknown) => marshal(asJsonData(value as RegoValue)),
  "yaml.unmarshal": (text: unknown) => parse(expectString(text, "x")),
  "yaml.is_valid": (text: unknown) => {
    if (typeof text !== "string") return false;
    try {
      parse(text);
      return true;
    } catch {
      return false;
    }
  },
};
