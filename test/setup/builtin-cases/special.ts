/**
 * Builtins a plain call cannot exercise: rego.metadata.* (the compiler
 * replaces them by the annotations of the rule they are called in), print()
 * (compared with what `opa eval` writes), opa.runtime() (only its version is
 * OPA's to compare) and the deprecated cast_* (Rego v0 only).
 */
import type { BuiltinCase } from "../../provided.d.ts";

/** Rules appended to the v1 cases module; each result is keyed like a case. */
export function metadataRules(): string {
  return `
# METADATA
# title: An annotated rule
# description: Used by the metadata cases.
# custom:
#   severity: high
#   tags: [a, b]
annotated := {"rule": rego.metadata.rule(), "chain": rego.metadata.chain()}

plain := {"rule": rego.metadata.rule(), "chain": rego.metadata.chain()}

# METADATA
# title: A function
annotated_function(x) := [x, rego.metadata.rule()]

# METADATA
# scope: document
# title: A document
documented contains entry if {
  some entry in rego.metadata.chain()
}

documented contains "second"

results["rego.metadata.rule: annotated rule"] := annotated.rule
results["rego.metadata.rule: rule without annotations"] := plain.rule
results["rego.metadata.rule: in a function"] := annotated_function(1)
results["rego.metadata.rule: document scope"] := documented
results["rego.metadata.rule: custom field"] := annotated.rule.custom.severity
results["rego.metadata.chain: annotated rule"] := annotated.chain
results["rego.metadata.chain: rule without annotations"] := plain.chain
results["rego.metadata.chain: path"] := annotated.chain[0].path
results["rego.metadata.chain: length"] := count(annotated.chain)
results["rego.metadata.chain: titles"] := [a.annotations.title | some a in annotated.chain; a.annotations.title]
results["opa.runtime: version"] := opa.runtime().version

# Exactness, end to end: compared inside the policy and returned to the edge.
results["units.parse: 10ei equals 11529215046068469760 in Rego"] := units.parse("10ei") == 11529215046068469760
results["units.parse_bytes: 1e-2KB equals 10 in Rego"] := units.parse_bytes("1e-2KB") == 10
results["numbers: beyond 2^53 from input, plus one"] := input.big + 1
results["sets: a set of sets in OPA's order"] := {{3, 1}, {2}, {"b", "a"}, set(), {[1], {"k": {2, 1}}}}
`;
}

export function printModule(): { module: string; input: unknown } {
  return {
    module: `package printing

result if {
  print("hello", input.big, {1, {"b", "a"}}, input.missing)
  print(["x", 1.5], {"k": [true, null]}, set(), "tab\\t\\u00e9", "quote\\"")
  names := [name | some name in input.names; print("name", name)]
  count(names) == 2
  print("sorted", {v | some v in [2, 1]})
}
`,
    input: { big: 12345678901234567890n, names: ["b", "a"] },
  };
}

export function castCases(): BuiltinCase[] {
  const c = (call: string, label: string, args: unknown[]): BuiltinCase => ({ name: `${call}: ${label}`, call, args });
  const cases: BuiltinCase[] = [];
  const samples: Array<[string, unknown]> = [
    ["string", "s"],
    ["number", 1],
    ["null", null],
    ["boolean", true],
    ["array", [2, 1]],
    ["set", { $rego: "{2, 1}" }],
    ["object", { a: 1 }],
  ];
  for (const call of ["cast_array", "cast_set", "cast_string", "cast_boolean", "cast_null", "cast_object"]) {
    for (const [label, value] of samples) cases.push(c(call, label, [value]));
  }
  return cases;
}
