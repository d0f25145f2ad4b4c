# Shared fixtures for the tests in this directory.
package tollgate_test

base_input := {
	"risk_tier": "medium",
	"tenant": "acme",
	"agent": {"id": "agent-1", "role": "support", "scopes": ["tickets:read", "kb:read"], "delegation_depth": 0},
	"session": {"id": "s-1", "usage": {"tokens": 100, "api_calls": 2, "cost_usd": 0.1, "wall_clock_s": 30}},
	"action": {"type": "tool_call", "tool": "tickets.read", "args": {"id": "T-1"}},
}

with_role(role) := object.union(base_input, {"agent": object.union(base_input.agent, {"role": role})})

tool_input(role, tool, args) := object.union(with_role(role), {"action": {"type": "tool_call", "tool": tool, "args": args}})

rules(d) := {r.rule | some r in d.reasons}
