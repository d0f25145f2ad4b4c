# The entrypoint, data.tollgate.decision: combines every reason the rules in
# this package raised. Deny beats require_approval beats allow. Reasons and
# obligations are sorted arrays so the answer is byte-identical whichever
# evaluator (opa eval or wasm) iterated the sets. Every field has a fallback,
# so the decision is defined for any input, garbage included.
package tollgate

# Limits, allowlists and patterns: data.json, never literals in rules.
cfg := data.tollgate.params

# deny and approval are filled by the rule files beside this one.
deny contains r if some r in invalid

reasons := sort(deny | approval)

verdict := "deny" if count(deny) > 0

else := "require_approval" if count(approval) > 0

else := "allow"

# A listing (list_tools) also carries each tool's verdict (listing.rego).
decision := object.union(verdict_object, {"tools": tool_listing}) if action_type == "list_tools"

else := verdict_object

verdict_object := {
	"decision": verdict,
	"reasons": reasons,
	"obligations": sort(obligations),
	"risk_tier": risk_tier,
	"fail_mode": fail_mode,
	"cost": cost,
	"ttl_s": ttl_s,
	"budget": {"limits": budget_limits},
	"breaker": breaker,
	"agent_limit": agent_limit,
	"approval_ttl_s": cfg.approvals.ttl_s,
	"delegation_ttl_s": cfg.delegation.credential_ttl_s,
}

reason(rule, message) := {"rule": rule, "message": message}

# A value from the input, fit for a message: strings as they are, anything
# else as its type. Only strings ever reach a %s, because Go's sprintf (opa
# eval) and the JavaScript one (wasm) print other values differently.
describe(x) := x if is_string(x)

else := concat("", ["<", type_name(x), ">"])

# An array whose every element is a string.
string_array(xs) if {
	is_array(xs)
	every x in xs {
		is_string(x)
	}
}

# One argument of a tool call; null when args is missing or not an object.
arg(args, key) := object.get(args, key, null) if is_object(args)

else := null
