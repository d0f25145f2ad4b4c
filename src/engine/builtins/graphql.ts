/**
 * @module graphql
 * graphql.parse_query, parse_schema, parse, parse_and_verify, is_valid and
 * schema_is_valid. Parsing and validation are the reference `graphql`
 * package's; the ASTs are returned in the shape OPA returns them, which is
 * gqlparser's Go structs as JSON (Operations, SelectionSet, Kind numbers for
 * values, aliases defaulting to the field name), with positions, nulls and
 * empty collections pruned as OPA prunes them. A query or schema may also be
 * given as such an AST object; it is printed back to GraphQL and parsed.
 * Comments (`# …`) are not carried into the ASTs.
 */
import {
  buildASTSchema,
  Kind,
  parse,
  specifiedRules,
  validate,
  validateSchema,
  type ConstDirectiveNode,
  type DefinitionNode,
  type DirectiveNode,
  type DocumentNode,
  type GraphQLSchema,
  type SelectionNode,
  type StringValueNode,
  type TypeNode,
  type ValueNode,
} from "graphql";
import { BoundedCache } from "./bounded-cache";
import { isPlainObject, BuiltinError, type Builtin } from "./context";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** gqlparser's value kinds. */
const VALUE_KIND: Record<string, number> = {
  [Kind.VARIABLE]: 0,
  [Kind.INT]: 1,
  [Kind.FLOAT]: 2,
  [Kind.STRING]: 3,
  [Kind.BOOLEAN]: 5,
  [Kind.NULL]: 6,
  [Kind.ENUM]: 7,
  [Kind.LIST]: 8,
  [Kind.OBJECT]: 9,
};
const BLOCK_STRING = 4;

/**
 * gqlparser's block string value: the common indentation of every non-blank
 * line (the first included, unlike the spec) is removed, then leading and
 * trailing blank lines.
 */
function blockStringValue(raw: string): string {
  const lines = raw.replace(/\\"""/g, '"""').split(/\r\n|\n|\r/);
  const indents = lines.filter((line) => line.trim() !== "").map((line) => /^[ \t]*/.exec(line)![0].length);
  const common = indents.length > 0 ? Math.min(...indents) : 0;
  const dedented = lines.map((line) => line.slice(Math.min(common, /^[ \t]*/.exec(line)![0].length)));
  while (dedented.length > 0 && dedented[0].trim() === "") dedented.shift();
  while (dedented.length > 0 && dedented[dedented.length - 1].trim() === "") dedented.pop();
  return dedented.join("\n");
}

function stringText(node: StringValueNode): string {
  if (!node.block) return node.value;
  const source = node.loc!.source.body.slice(node.loc!.start, node.loc!.end);
  return blockStringValue(source.slice(3, -3));
}

function value(node: ValueNode): Json {
  const out: Record<string, Json> = { ExpectedTypeHasDefault: false };
  switch (node.kind) {
    case Kind.VARIABLE:
      out.Raw = node.name.value;
      break;
    case Kind.INT:
    case Kind.FLOAT:
    case Kind.ENUM:
      out.Raw = node.value;
      break;
    case Kind.STRING:
      out.Raw = stringText(node);
      break;
    case Kind.BOOLEAN:
      out.Raw = String(node.value);
      break;
    case Kind.NULL:
      out.Raw = "null";
      break;
    case Kind.LIST:
      out.Raw = "";
      out.Children = node.values.map((child) => ({ Name: "", Value: value(child) }));
      break;
    case Kind.OBJECT:
      out.Raw = "";
      out.Children = node.fields.map((field) => ({ Name: field.name.value, Value: value(field.value) }));
      break;
  }
  out.Kind = node.kind === Kind.STRING && node.block ? BLOCK_STRING : VALUE_KIND[node.kind];
  return out;
}

function type(node: TypeNode): Json {
  if (node.kind === Kind.NON_NULL_TYPE) return { ...(type(node.type) as object), NonNull: true };
  if (node.kind === Kind.LIST_TYPE) return { NamedType: "", Elem: type(node.type), NonNull: false };
  return { NamedType: node.name.value, NonNull: false };
}

const directives = (nodes: readonly (DirectiveNode | ConstDirectiveNode)[] | undefined): Json =>
  (nodes ?? []).map((d) => ({ Name: d.name.value, Arguments: (d.arguments ?? []).map((a) => ({ Name: a.name.value, Value: value(a.value) })), Location: "" }));

const description = (node: { description?: StringValueNode }) => (node.description ? stringText(node.description) : "");

function selections(nodes: readonly SelectionNode[] | undefined): Json {
  return (nodes ?? []).map((node): Json => {
    if (node.kind === Kind.FIELD) {
      return {
        Alias: node.alias?.value ?? node.name.value,
        Name: node.name.value,
        Arguments: (node.arguments ?? []).map((a) => ({ Name: a.name.value, Value: value(a.value) })),
        Directives: directives(node.directives),
        SelectionSet: selections(node.selectionSet?.selections),
      };
    }
    if (node.kind === Kind.FRAGMENT_SPREAD) return { Name: node.name.value, Directives: directives(node.directives) };
    return { TypeCondition: node.typeCondition?.name.value ?? "", Directives: directives(node.directives), SelectionSet: selections(node.selectionSet.selections) };
  });
}

function queryDocument(document: DocumentNode): Json {
  const operations: Json[] = [];
  const fragments: Json[] = [];
  for (const definition of document.definitions) {
    if (definition.kind === Kind.OPERATION_DEFINITION) {
      operations.push({
        Operation: definition.operation,
        Name: definition.name?.value ?? "",
        VariableDefinitions: (definition.variableDefinitions ?? []).map((v) => ({
          Variable: v.variable.name.value,
          Type: type(v.type),
          DefaultValue: v.defaultValue ? value(v.defaultValue) : null,
          Directives: directives(v.directives),
          Used: false,
        })),
        Directives: directives(definition.directives),
        SelectionSet: selections(definition.selectionSet.selections),
      });
    } else if (definition.kind === Kind.FRAGMENT_DEFINITION) {
      fragments.push({
        Name: definition.name.value,
        TypeCondition: definition.typeCondition.name.value,
        Directives: directives(definition.directives),
        SelectionSet: selections(definition.selectionSet.selections),
      });
    } else {
      throw new BuiltinError(`unexpected ${definition.kind} in a query`);
    }
  }
  return { Operations: operations, Fragments: fragments };
}

type Named = { name: { value: string } };

function argumentDefinitions(args: readonly { name: { value: string }; description?: StringValueNode; defaultValue?: ValueNode; type: TypeNode; directives?: readonly ConstDirectiveNode[] }[] | undefined): Json {
  return (args ?? []).map((a) => ({
    Description: description(a),
    Name: a.name.value,
    DefaultValue: a.defaultValue ? value(a.defaultValue) : null,
    Type: type(a.type),
    Directives: directives(a.directives),
  }));
}

function typeDefinition(node: DefinitionNode): Json {
  const n = node as DefinitionNode & Named & { description?: StringValueNode; directives?: readonly ConstDirectiveNode[] };
  const base: Record<string, Json> = { Description: description(n), Name: n.name.value, Directives: directives(n.directives), BuiltIn: false };
  switch (node.kind) {
    case Kind.OBJECT_TYPE_DEFINITION:
    case Kind.OBJECT_TYPE_EXTENSION:
    case Kind.INTERFACE_TYPE_DEFINITION:
    case Kind.INTERFACE_TYPE_EXTENSION:
      return {
        ...base,
        Kind: node.kind.startsWith("Object") ? "OBJECT" : "INTERFACE",
        Interfaces: (node.interfaces ?? []).map((i) => i.name.value),
        Fields: (node.fields ?? []).map((f) => ({ Description: description(f), Name: f.name.value, Arguments: argumentDefinitions(f.arguments), Type: type(f.type), Directives: directives(f.directives) })),
      };
    case Kind.INPUT_OBJECT_TYPE_DEFINITION:
    case Kind.INPUT_OBJECT_TYPE_EXTENSION:
      return { ...base, Kind: "INPUT_OBJECT", Fields: argumentDefinitions(node.fields) };
    case Kind.UNION_TYPE_DEFINITION:
    case Kind.UNION_TYPE_EXTENSION:
      return { ...base, Kind: "UNION", Types: (node.types ?? []).map((t) => t.name.value) };
    case Kind.ENUM_TYPE_DEFINITION:
    case Kind.ENUM_TYPE_EXTENSION:
      return { ...base, Kind: "ENUM", EnumValues: (node.values ?? []).map((v) => ({ Description: description(v), Name: v.name.value, Directives: directives(v.directives) })) };
    case Kind.SCALAR_TYPE_DEFINITION:
    case Kind.SCALAR_TYPE_EXTENSION:
      return { ...base, Kind: "SCALAR" };
    default:
      throw new BuiltinError(`unexpected ${node.kind} in a schema`);
  }
}

function schemaDocument(document: DocumentNode): Json {
  const out = { Schema: [] as Json[], SchemaExtension: [] as Json[], Directives: [] as Json[], Definitions: [] as Json[], Extensions: [] as Json[] };
  for (const node of document.definitions) {
    switch (node.kind) {
      case Kind.SCHEMA_DEFINITION:
      case Kind.SCHEMA_EXTENSION:
        (node.kind === Kind.SCHEMA_DEFINITION ? out.Schema : out.SchemaExtension).push({
          Description: node.kind === Kind.SCHEMA_DEFINITION ? description(node) : "",
          Directives: directives(node.directives),
          OperationTypes: (node.operationTypes ?? []).map((o) => ({ Operation: o.operation, Type: o.type.name.value })),
        });
        break;
      case Kind.DIRECTIVE_DEFINITION:
        out.Directives.push({
          Description: description(node),
          Name: node.name.value,
          Arguments: argumentDefinitions(node.arguments),
          Locations: node.locations.map((l) => l.value),
          IsRepeatable: node.repeatable,
        });
        break;
      case Kind.OPERATION_DEFINITION:
      case Kind.FRAGMENT_DEFINITION:
        throw new BuiltinError(`unexpected ${node.kind} in a schema`);
      default:
        (node.kind.endsWith("Extension") ? out.Extensions : out.Definitions).push(typeDefinition(node));
    }
  }
  return out;
}

/** OPA's pruning: no nulls, no empty arrays or objects (after pruning), at any depth. */
function prune(value: Json): Json {
  const empty = (v: Json) => v === null || (Array.isArray(v) && v.length === 0) || (typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 0);
  if (Array.isArray(value)) return value.map(prune).filter((v) => !empty(v));
  if (value && typeof value === "object") {
    const out: Record<string, Json> = {};
    for (const [key, field] of Object.entries(value)) {
      const pruned = prune(field);
      if (!empty(pruned)) out[key] = pruned;
    }
    return out;
  }
  return value;
}

function parseDocument(text: string): DocumentNode {
  try {
    return parse(text);
  } catch (error) {
    throw new BuiltinError(`GraphQL parse error: ${(error as Error).message}`);
  }
}

function parseQueryText(text: string): DocumentNode {
  const document = parseDocument(text);
  queryDocument(document);
  return document;
}

function parseSchemaText(text: string): DocumentNode {
  const document = parseDocument(text);
  schemaDocument(document);
  return document;
}

/** gqlparser-shaped AST objects printed back as GraphQL, so either form of argument can be parsed and validated. */
function printValue(v: Record<string, any>): string {
  const children = (v.Children ?? []) as Array<{ Name: string; Value: Record<string, any> }>;
  switch (v.Kind) {
    case 0:
      return `$${v.Raw}`;
    case 3:
    case 4:
      return JSON.stringify(v.Raw ?? "");
    case 8:
      return `[${children.map((c) => printValue(c.Value)).join(", ")}]`;
    case 9:
      return `{${children.map((c) => `${c.Name}: ${printValue(c.Value)}`).join(", ")}}`;
    default:
      return String(v.Raw);
  }
}

function printType(t: Record<string, any>): string {
  const inner = t.Elem ? `[${printType(t.Elem)}]` : t.NamedType;
  return t.NonNull ? `${inner}!` : inner;
}

const printDirectives = (list: any[] | undefined) =>
  (list ?? []).map((d) => ` @${d.Name}${d.Arguments?.length ? `(${d.Arguments.map((a: any) => `${a.Name}: ${printValue(a.Value)}`).join(", ")})` : ""}`).join("");

function printSelections(list: any[] | undefined): string {
  if (!list?.length) return "";
  const items = list.map((s) => {
    if (s.TypeCondition !== undefined || (s.SelectionSet && s.Name === undefined)) return `... ${s.TypeCondition ? `on ${s.TypeCondition}` : ""}${printDirectives(s.Directives)}${printSelections(s.SelectionSet)}`;
    if (s.Alias === undefined && !s.SelectionSet && !s.Arguments) return `...${s.Name}${printDirectives(s.Directives)}`;
    const args = s.Arguments?.length ? `(${s.Arguments.map((a: any) => `${a.Name}: ${printValue(a.Value)}`).join(", ")})` : "";
    return `${s.Alias && s.Alias !== s.Name ? `${s.Alias}: ` : ""}${s.Name}${args}${printDirectives(s.Directives)}${printSelections(s.SelectionSet)}`;
  });
  return ` { ${items.join(" ")} }`;
}

function printQueryObject(ast: Record<string, any>): string {
  const operations = (ast.Operations ?? []).map((op: any) => {
    const vars = op.VariableDefinitions?.length
      ? `(${op.VariableDefinitions.map((v: any) => `$${v.Variable}: ${printType(v.Type)}${v.DefaultValue ? ` = ${printValue(v.DefaultValue)}` : ""}`).join(", ")})`
      : "";
    return `${op.Operation ?? "query"} ${op.Name ?? ""}${vars}${printDirectives(op.Directives)}${printSelections(op.SelectionSet)}`;
  });
  const fragments = (ast.Fragments ?? []).map((f: any) => `fragment ${f.Name} on ${f.TypeCondition}${printDirectives(f.Directives)}${printSelections(f.SelectionSet)}`);
  return [...operations, ...fragments].join("\n");
}

function printSchemaObject(ast: Record<string, any>): string {
  const args = (list: any[] | undefined) =>
    list?.length ? `(${list.map((a) => `${a.Name}: ${printType(a.Type)}${a.DefaultValue ? ` = ${printValue(a.DefaultValue)}` : ""}${printDirectives(a.Directives)}`).join(", ")})` : "";
  const definition = (d: any, extend: boolean) => {
    const head = `${extend ? "extend " : ""}`;
    const directives = printDirectives(d.Directives);
    switch (d.Kind) {
      case "OBJECT":
      case "INTERFACE": {
        const keyword = d.Kind === "OBJECT" ? "type" : "interface";
        const implementsList = d.Interfaces?.length ? ` implements ${d.Interfaces.join(" & ")}` : "";
        const fields = d.Fields?.length ? ` { ${d.Fields.map((f: any) => `${f.Name}${args(f.Arguments)}: ${printType(f.Type)}${printDirectives(f.Directives)}`).join(" ")} }` : "";
        return `${head}${keyword} ${d.Name}${implementsList}${directives}${fields}`;
      }
      case "INPUT_OBJECT":
        return `${head}input ${d.Name}${directives} { ${(d.Fields ?? []).map((f: any) => `${f.Name}: ${printType(f.Type)}${f.DefaultValue ? ` = ${printValue(f.DefaultValue)}` : ""}`).join(" ")} }`;
      case "UNION":
        return `${head}union ${d.Name}${directives} = ${(d.Types ?? []).join(" | ")}`;
      case "ENUM":
        return `${head}enum ${d.Name}${directives} { ${(d.EnumValues ?? []).map((v: any) => v.Name).join(" ")} }`;
      default:
        return `${head}scalar ${d.Name}${directives}`;
    }
  };
  const schemas = (list: any[] | undefined, extend: boolean) =>
    (list ?? []).map((s) => `${extend ? "extend " : ""}schema${printDirectives(s.Directives)} { ${(s.OperationTypes ?? []).map((o: any) => `${o.Operation}: ${o.Type}`).join(" ")} }`);
  return [
    ...schemas(ast.Schema, false),
    ...schemas(ast.SchemaExtension, true),
    ...(ast.Directives ?? []).map((d: any) => `directive @${d.Name}${args(d.Arguments)}${d.IsRepeatable ? " repeatable" : ""} on ${(d.Locations ?? []).join(" | ")}`),
    ...(ast.Definitions ?? []).map((d: any) => definition(d, false)),
    ...(ast.Extensions ?? []).map((d: any) => definition(d, true)),
  ].join("\n");
}

function queryArgument(arg: unknown): DocumentNode {
  if (typeof arg === "string") return parseQueryText(arg);
  if (isPlainObject(arg)) return parseQueryText(printQueryObject(arg));
  throw new BuiltinError("query must be a string or an object");
}

function schemaArgument(arg: unknown): DocumentNode {
  if (typeof arg === "string") return parseSchemaText(arg);
  if (isPlainObject(arg)) return parseSchemaText(printSchemaObject(arg));
  throw new BuiltinError("schema must be a string or an object");
}

/** Built schemas by their SDL text (OPA caches them between queries too). */
const schemas = new BoundedCache<GraphQLSchema | BuiltinError>(16);

function schemaFor(arg: unknown): GraphQLSchema {
  if (typeof arg !== "string") return buildSchema(schemaArgument(arg));
  const outcome = schemas.get(arg, () => {
    try {
      return buildSchema(schemaArgument(arg));
    } catch (error) {
      return error instanceof BuiltinError ? error : new BuiltinError((error as Error).message);
    }
  });
  if (outcome instanceof BuiltinError) throw outcome;
  return outcome;
}

/** The schema with GraphQL's built-in scalars and directives (gqlparser's prelude), or an error when it is not a valid schema. */
function buildSchema(document: DocumentNode): GraphQLSchema {
  let schema: GraphQLSchema;
  try {
    schema = buildASTSchema(document);
  } catch (error) {
    throw new BuiltinError(`invalid schema: ${(error as Error).message}`);
  }
  // gqlparser accepts a schema without a query type (a query then fails to validate against it); graphql-js does not.
  const errors = validateSchema(schema).filter((error) => !/^Query root type must be provided/.test(error.message));
  if (errors.length > 0) throw new BuiltinError(`invalid schema: ${errors[0].message}`);
  return schema;
}

/** A query valid against a schema: gqlparser, like the spec, needs a query root type to validate against. */
function validateQuery(schema: GraphQLSchema, query: DocumentNode): void {
  if (!schema.getQueryType()) throw new BuiltinError("schema has no query type");
  const errors = validate(schema, query, specifiedRules);
  if (errors.length > 0) throw new BuiltinError(errors[0].message);
}

const queryAst = (document: DocumentNode) => prune(queryDocument(document));
const schemaAst = (document: DocumentNode) => prune(schemaDocument(document));

function succeeds(run: () => unknown): boolean {
  try {
    run();
    return true;
  } catch {
    return false;
  }
}

export const graphqlBuiltins: Record<string, Builtin> = {
  "graphql.parse_query": (query: unknown) => {
    if (typeof query !== "string") throw new BuiltinError("query must be a string");
    return queryAst(parseQueryText(query));
  },
  "graphql.parse_schema": (schema: unknown) => {
    if (typeof schema !== "string") throw new BuiltinError("schema must be a string");
    return schemaAst(parseSchemaText(schema));
  },
  "graphql.parse": (query: unknown, schema: unknown) => {
    const queryDoc = queryArgument(query);
    const schemaDoc = schemaArgument(schema);
    validateQuery(schemaFor(schema), queryDoc);
    return [queryAst(queryDoc), schemaAst(schemaDoc)];
  },
  "graphql.parse_and_verify": (query: unknown, schema: unknown) => {
    try {
      const queryDoc = queryArgument(query);
      const schemaDoc = schemaArgument(schema);
      validateQuery(schemaFor(schema), queryDoc);
      return [true, queryAst(queryDoc), schemaAst(schemaDoc)];
    } catch {
      return [false, {}, {}];
    }
  },
  "graphql.is_valid": (query: unknown, schema: unknown) => succeeds(() => validateQuery(schemaFor(schema), queryArgument(query))),
  "graphql.schema_is_valid": (schema: unknown) => succeeds(() => schemaFor(schema)),
};

