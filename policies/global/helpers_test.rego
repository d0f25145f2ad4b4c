# Shared fixtures for the tests in this directory.
package tollgate_test

base_input := {
	"risk_tier": "medium",
	"tenant": "acme",
	"agent": {"id": "agent-1", "role": "support", "scopes": ["tickets:read", "kb:read"], "delegation_depth": 0},
	"session": {"id": "s-1", "usage": {"tokens": 100, "api_calls": 2, "cost_usd": 0.1, "wall_clock_s": 30}},
	"action": {"type": "tool_call", "tool": "tickets.read", "args": {"id": "T-1"}},
	"identity": verified_identity,
}

# What the edge puts in input.identity for a verified, certified agent.
verified_identity := {
	"tenant": "acme", "agent": "agent-1", "role": "support", "scopes": ["tickets:read", "kb:read"],
	"credential": {"kind": "agent_key", "id": "k0000000000000000"},
	"registration": {
		"owner": "ops@acme.example", "role": "support", "risk_tier": "low", "max_risk_tier": "critical",
		"certified_until": "2099-01-01T00:00:00Z", "scopes": ["tickets:read", "kb:read"],
	},
	"delegation": {"depth": 0},
}

with_role(role) := object.union(base_input, {"agent": object.union(base_input.agent, {"role": role})})

tool_input(role, tool, args) := as_role(role, {"type": "tool_call", "tool": tool, "args": args})

# The base input with its action replaced (object.union would merge them).
with_action(action) := object.union(object.remove(base_input, ["action"]), {"action": action})

# The base input for an agent of this role taking this action.
as_role(role, action) := object.union(with_action(action), {"agent": {"role": role}})

rules(d) := {r.rule | some r in d.reasons}

allowed(d) if {
	d.decision == "allow"
	d.reasons == []
}

denied_by(d, expected) if {
	d.decision == "deny"
	rules(d) == expected
}
