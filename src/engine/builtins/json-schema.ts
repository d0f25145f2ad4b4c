/**
 * @module json-schema
 * json.verify_schema and json.match_schema. Validation is
 * @cfworker/json-schema's (it interprets schemas, never generating code, so it
 * runs where Workers forbid `new Function`); its output is then reported as
 * OPA reports it through gojsonschema: one `{error, type, field, desc}` per
 * failed keyword, wrapper keywords (properties, items, $ref) dropped, nothing
 * more said about a value once its type is wrong, anyOf/oneOf followed by the
 * errors of their first failing branch, and gojsonschema's texts and numbers
 * (big.Float's %g with 10 digits). A document or schema given as a string is
 * JSON text, as in OPA. The order of errors across properties is not
 * defined in OPA either (Go map iteration); compare them as a set.
 */
import { Validator, type OutputUnit, type Schema, type SchemaDraft } from "@cfworker/json-schema";
import { compareStrings, isRegoNumber, numberText, readRegoValue, writeRegoValue, type RegoValue } from "../rego-value";
import { BoundedCache } from "./bounded-cache";
import { BuiltinError, isPlainObject, type Builtin } from "./context";
import { ownMember } from "../../own-members";
import { goFloatG } from "./go-format";
import { goJsonMarshal } from "./json";

interface GoJsonSchemaError {
  error: string;
  type: string;
  field: string;
  desc: string;
}

/** A schema or document argument as plain JSON data (numbers as doubles, as gojsonschema compares them). */
function loadJson(value: RegoValue): unknown {
  if (typeof value === "string") {
    try {
      return toPlain(readRegoValue(value, { shape: "values", strictJson: true }));
    } catch {
      throw new BuiltinError("invalid JSON string");
    }
  }
  if (isPlainObject(value) || Array.isArray(value) || value instanceof Set) return toPlain(value);
  throw new BuiltinError("wrong type, expected string or object");
}

function toPlain(value: RegoValue): unknown {
  if (isRegoNumber(value)) return Number(numberText(value));
  if (Array.isArray(value)) return value.map(toPlain);
  if (value instanceof Set) return [...value].map(toPlain);
  if (value instanceof Map) throw new BuiltinError("object keys must be strings");
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toPlain(v)]));
  return value;
}

const DRAFTS: Array<[RegExp, SchemaDraft]> = [
  [/draft-04/, "4"],
  [/draft-0[67]/, "7"],
  [/2019-09/, "2019-09"],
  [/2020-12/, "2020-12"],
];

function draftOf(schema: unknown): SchemaDraft {
  const declared = isPlainObject(schema) && typeof schema.$schema === "string" ? schema.$schema : "";
  return DRAFTS.find(([pattern]) => pattern.test(declared))?.[1] ?? "7";
}

const TYPES = ["array", "boolean", "integer", "number", "null", "object", "string"];

/** The schema checks gojsonschema makes when it compiles a schema, with its messages, for the keywords policies use. */
function checkSchema(schema: unknown, path = ""): void {
  if (typeof schema === "boolean") return;
  if (!isPlainObject(schema)) throw new BuiltinError(path ? `Invalid type. Expected: Valid Schema, given: ${path}` : "schema must be an object");
  const s = schema as Record<string, unknown>;
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? s.type : [s.type];
    if (!Array.isArray(s.type) && typeof s.type !== "string") throw new BuiltinError("Invalid type. Expected: type, given: string/Array Of Strings");
    for (const [i, type] of types.entries()) {
      if (typeof type !== "string") throw new BuiltinError("Invalid type. Expected: type, given: string/Array Of Strings");
      if (!TYPES.includes(type)) throw new BuiltinError(`has a primitive type that is NOT VALID -- given: /${type}/ Expected valid values are:[${TYPES.join(" ")}]`);
      if (types.indexOf(type) !== i) throw new BuiltinError(`${type} type is duplicated`);
    }
  }
  for (const key of ["minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"]) {
    if (s[key] !== undefined && (typeof s[key] !== "number" || !Number.isInteger(s[key]))) throw new BuiltinError(`${key} must be of an integer`);
  }
  for (const key of ["minimum", "maximum", "multipleOf"]) {
    if (s[key] !== undefined && typeof s[key] !== "number") throw new BuiltinError(`${key} must be of a number`);
  }
  if (s.required !== undefined && !Array.isArray(s.required)) throw new BuiltinError("required must be of an array");
  if (s.enum !== undefined && !Array.isArray(s.enum)) throw new BuiltinError("enum must be of an array");
  if (s.pattern !== undefined) {
    if (typeof s.pattern !== "string") throw new BuiltinError("pattern must be of a string");
    try {
      new RegExp(s.pattern, "u");
    } catch {
      throw new BuiltinError("pattern must be a valid regex");
    }
  }
  if (s.items !== undefined && typeof s.items !== "boolean" && !isPlainObject(s.items) && !Array.isArray(s.items)) {
    throw new BuiltinError("Invalid type. Expected: Valid Schema/Array Of Schemas, given: items");
  }
  for (const key of ["properties", "patternProperties", "definitions", "$defs", "dependencies"]) {
    if (isPlainObject(s[key])) for (const [name, sub] of Object.entries(s[key] as object)) if (!Array.isArray(sub)) checkSchema(sub, `${key}.${name}`);
  }
  for (const key of ["not", "additionalProperties", "additionalItems", "if", "then", "else", "contains", "propertyNames"]) {
    if (s[key] !== undefined) checkSchema(s[key], key);
  }
  for (const key of ["allOf", "anyOf", "oneOf"]) {
    if (Array.isArray(s[key])) (s[key] as unknown[]).forEach((sub, i) => checkSchema(sub, `${key}.${i}`));
  }
  if (Array.isArray(s.items)) s.items.forEach((sub, i) => checkSchema(sub, `items.${i}`));
  else if (s.items !== undefined) checkSchema(s.items, "items");
}

interface CompiledSchema {
  validator: Validator;
  schema: unknown;
}

/** Compiled schemas by their text: a policy checks many documents against the same few tool schemas. */
const compiled = new BoundedCache<CompiledSchema | BuiltinError>(32);

function compile(schemaArg: RegoValue): CompiledSchema {
  const outcome = compiled.get(writeRegoValue(schemaArg), () => {
    try {
      const schema = loadJson(schemaArg);
      checkSchema(schema);
      return { validator: new Validator(schema as Schema, draftOf(schema), false), schema };
    } catch (error) {
      return error instanceof BuiltinError ? error : new BuiltinError((error as Error).message);
    }
  });
  if (outcome instanceof BuiltinError) throw outcome;
  return outcome;
}

function decodePointer(pointer: string): string[] {
  const path = pointer.replace(/^#/, "");
  if (path === "") return [];
  return path
    .slice(1)
    .split("/")
    .map((part) => decodeURIComponent(part).replace(/~1/g, "/").replace(/~0/g, "~"));
}

/** The node at a schema or instance path; a "$ref" segment follows a local reference ("#/definitions/n"). */
function at(root: unknown, path: string[]): unknown {
  let node = root;
  for (const key of path) {
    node = node === null || typeof node !== "object" ? undefined : ownMember(node as Record<string, unknown>, key);
    if (key === "$ref" && typeof node === "string" && node.startsWith("#")) node = at(root, decodePointer(node));
  }
  return node;
}

/** gojsonschema's field: the instance path joined with dots, "(Root)" at the top. */
function fieldOf(instanceLocation: string): string {
  const path = decodePointer(instanceLocation);
  return path.length === 0 ? "(Root)" : path.join(".");
}

function givenType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

const jsonText = (value: unknown) => goJsonMarshal(value as RegoValue);
/** gojsonschema prints limits as Go's %v of a float64: shortest digits, an exponent from 1e+06 up. */
const goNumber = (value: unknown) => goFloatG(Number(value));

/** gojsonschema's type and text for the keywords whose message names no value. */
const FIXED_MESSAGES: Record<string, [string, string]> = {
  false: ["false", "False always fails validation"],
  not: ["number_not", "Must not validate the schema (not)"],
  anyOf: ["number_any_of", "Must validate at least one schema (anyOf)"],
  oneOf: ["number_one_of", "Must validate one and only one schema (oneOf)"],
  allOf: ["number_all_of", "Must validate all the schemas (allOf)"],
  contains: ["contains", "At least one of the items must match"],
};

/** One cfworker output unit as a gojsonschema error, or undefined for a unit that only wraps others. */
function translate(unit: OutputUnit, schema: unknown, document: unknown): GoJsonSchemaError | undefined {
  const schemaPath = decodePointer(unit.keywordLocation);
  const parent = at(schema, schemaPath.slice(0, -1)) as Record<string, unknown> | undefined;
  const instance = at(document, decodePointer(unit.instanceLocation));
  const field = fieldOf(unit.instanceLocation);
  const make = (type: string, desc: string, where = field): GoJsonSchemaError => ({ error: `${where}: ${desc}`, type, field: where, desc });
  switch (unit.keyword) {
    case "type": {
      const expected = Array.isArray(parent?.type) ? `[${(parent!.type as string[]).join(",")}]` : String(parent?.type);
      return make("invalid_type", `Invalid type. Expected: ${expected}, given: ${givenType(instance)}`);
    }
    case "required":
      return make("required", `${/"(.*)"\.$/s.exec(unit.error)?.[1] ?? ""} is required`);
    case "const":
      return make("const", `${field} does not match: ${jsonText(parent?.const)}`);
    case "enum":
      return make("enum", `${field} must be one of the following: ${(parent?.enum as unknown[]).map(jsonText).join(", ")}`);
    case "minLength":
      return make("string_gte", `String length must be greater than or equal to ${parent?.minLength}`);
    case "maxLength":
      return make("string_lte", `String length must be less than or equal to ${parent?.maxLength}`);
    case "pattern":
      return make("pattern", `Does not match pattern '${parent?.pattern}'`);
    case "format":
      return make("format", `Does not match format '${parent?.format}'`);
    case "minimum":
      return parent?.exclusiveMinimum === true
        ? make("number_gt", `Must be greater than ${goNumber(parent.minimum)}`)
        : make("number_gte", `Must be greater than or equal to ${goNumber(parent?.minimum)}`);
    case "maximum":
      return parent?.exclusiveMaximum === true
        ? make("number_lt", `Must be less than ${goNumber(parent.maximum)}`)
        : make("number_lte", `Must be less than or equal to ${goNumber(parent?.maximum)}`);
    case "exclusiveMinimum":
      return make("number_gt", `Must be greater than ${goNumber(parent?.exclusiveMinimum)}`);
    case "exclusiveMaximum":
      return make("number_lt", `Must be less than ${goNumber(parent?.exclusiveMaximum)}`);
    case "multipleOf":
      return make("multiple_of", `Must be a multiple of ${goNumber(parent?.multipleOf)}`);
    case "minItems":
      return make("array_min_items", `Array must have at least ${parent?.minItems} items`);
    case "maxItems":
      return make("array_max_items", `Array must have at most ${parent?.maxItems} items`);
    case "uniqueItems": {
      const [, j, k] = /indexes (\d+) and (\d+)/.exec(unit.error) ?? [];
      return make("unique", `array items[${j},${k}] must be unique`);
    }
    case "minProperties":
      return make("array_min_properties", `Must have at least ${parent?.minProperties} properties`);
    case "maxProperties":
      return make("array_max_properties", `Must have at most ${parent?.maxProperties} properties`);
    case "additionalProperties": {
      if (parent?.additionalProperties !== false) return undefined;
      return make("additional_property_not_allowed", `Additional property ${/"(.*)"/s.exec(unit.error)?.[1]} is not allowed`);
    }
    case "additionalItems":
      return parent?.additionalItems === false ? make("array_no_additional_items", "No additional items allowed on array") : undefined;
    case "dependencies":
    case "dependentRequired": {
      const missing = /does not have "(.*)"\.$/s.exec(unit.error)?.[1];
      return missing === undefined ? undefined : make("missing_dependency", `Has a dependency on ${missing}`);
    }
    case "false":
    case "not":
    case "anyOf":
    case "oneOf":
    case "allOf":
    case "contains":
      return make(...FIXED_MESSAGES[unit.keyword]);
    case "if":
      return /"then"/.test(unit.error) ? make("condition_then", 'Must validate "then" as "if" was valid') : make("condition_else", 'Must validate "else" as "if" was not valid');
    default:
      // properties, patternProperties, items, $ref, dependentSchemas, propertyNames: their subschemas' errors say what failed.
      return undefined;
  }
}

/** gojsonschema's reporting rules applied to cfworker's flat list of output units. */
function report(units: OutputUnit[], schema: unknown, document: unknown): GoJsonSchemaError[] {
  // Locations whose value had the wrong type: gojsonschema says nothing more about them at that schema.
  const mistyped = new Set(units.filter((u) => u.keyword === "type").map((u) => `${u.keywordLocation.replace(/\/type$/, "")}|${u.instanceLocation}`));
  // For anyOf and oneOf, only the first failing branch's errors are kept (gojsonschema keeps its best-scoring branch).
  const skipped: string[] = [];
  for (const unit of units) {
    if (unit.keyword !== "anyOf" && unit.keyword !== "oneOf") continue;
    const branches = (at(schema, decodePointer(unit.keywordLocation)) as unknown[]) ?? [];
    const failing = branches.map((_, i) => `${unit.keywordLocation}/${i}`).filter((prefix) => units.some((u) => u.keywordLocation.startsWith(`${prefix}/`) || u.keywordLocation === prefix));
    skipped.push(...failing.slice(1));
    if (unit.keyword === "oneOf" && /\(([2-9]|\d{2,}) matches\)/.test(unit.error)) skipped.push(...branches.map((_, i) => `${unit.keywordLocation}/${i}`));
  }
  const errors: GoJsonSchemaError[] = [];
  for (const [index, unit] of units.entries()) {
    if (skipped.some((prefix) => unit.keywordLocation === prefix || unit.keywordLocation.startsWith(`${prefix}/`))) continue;
    const schemaLocation = unit.keywordLocation.replace(/\/[^/]*$/, "");
    if (unit.keyword !== "type" && mistyped.has(`${schemaLocation}|${unit.instanceLocation}`)) continue;
    // A property that additionalProperties: false rejects is reported once, at its object; a false schema of its own is kept.
    // (cfworker locates a false schema by the instance's path, so the unit before it says where it came from.)
    if (unit.keyword === "false" && units[index - 1]?.keyword === "additionalProperties") continue;
    if (unit.keyword === "not") {
      skipped.push(`${unit.keywordLocation}/`);
    }
    const error = translate(unit, schema, document);
    if (error) errors.push(error);
  }
  return errors;
}

export const jsonSchemaBuiltins: Record<string, Builtin> = {
  "json.verify_schema": (schema: RegoValue) => {
    try {
      compile(schema);
      return [true, null];
    } catch (error) {
      return [false, `jsonschema: ${(error as Error).message}`];
    }
  },
  "json.match_schema": (document: RegoValue, schema: RegoValue) => {
    const data = loadJson(document);
    const { validator, schema: plainSchema } = compile(schema);
    const result = validator.validate(data);
    if (result.valid) return [true, []];
    const errors = report(result.errors, plainSchema, data);
    return [false, errors.sort((a, b) => compareStrings(a.error, b.error))];
  },
};
