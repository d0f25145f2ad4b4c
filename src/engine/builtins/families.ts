/**
 * @module families
 * The builtins that stand on large libraries (GraphQL, YAML, JSON Schema,
 * ASN.1 for certificates), imported only for a policy that calls one of
 * them (index.ts loads them). The sandbox is built with code splitting
 * (scripts/build-sandbox.ts), and the edge hands a sandbox a family's
 * modules only when one of its layers names one of the family's builtins
 * (sandbox-modules.ts): most of a sandbox's memory and start-up would
 * otherwise be libraries its policy never calls. Names only, no imports,
 * so the edge can read this table without bundling the libraries.
 */

export interface BuiltinFamily {
  name: string;
  /**
   * The file in this directory the family is imported from. The sandbox's
   * build records, by this name, which of its modules that import needs.
   */
  source: string;
  /** True for each builtin the family provides (and for no other). */
  covers(builtin: string): boolean;
}

export const LAZY_BUILTIN_FAMILIES = [
  { name: "graphql", source: "graphql.ts", covers: (builtin: string) => builtin.startsWith("graphql.") },
  { name: "yaml", source: "yaml.ts", covers: (builtin: string) => builtin.startsWith("yaml.") },
  { name: "json-schema", source: "json-schema.ts", covers: (builtin: string) => builtin === "json.match_schema" || builtin === "json.verify_schema" },
  {
    name: "certificates",
    source: "certificates.ts",
    covers: (builtin: string) => builtin.startsWith("crypto.x509.") || builtin === "crypto.parse_private_keys",
  },
] as const satisfies readonly BuiltinFamily[];

export type BuiltinFamilyName = (typeof LAZY_BUILTIN_FAMILIES)[number]["name"];
