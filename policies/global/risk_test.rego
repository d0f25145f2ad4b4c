package tollgate_test

import data.tollgate

tier(t) := object.union(base_input, {"risk_tier": t})

test_low_tier_fails_open if {
	d := tollgate.decision with input as tier("low")
	allowed(d)
	d.risk_tier == "low"
	d.fail_mode == "open"
}

test_medium_tier_fails_open if {
	d := tollgate.decision with input as tier("medium")
	allowed(d)
	d.risk_tier == "medium"
	d.fail_mode == "open"
}

test_high_tier_fails_closed if {
	d := tollgate.decision with input as tier("high")
	allowed(d)
	d.risk_tier == "high"
	d.fail_mode == "closed"
}

test_critical_tier_fails_closed_and_audits_synchronously if {
	d := tollgate.decision with input as tier("critical")
	allowed(d)
	d.risk_tier == "critical"
	d.fail_mode == "closed"
	d.obligations == [{"type": "audit_sync"}]
}

test_unknown_tier_is_denied_and_judged_critical if {
	d := tollgate.decision with input as tier("extreme")
	denied_by(d, {"invalid_risk_tier"})
	d.risk_tier == "critical"
	d.fail_mode == "closed"
}

test_missing_tier_is_judged_at_the_floor if {
	d := tollgate.decision with input as json.remove(base_input, ["risk_tier"])
	allowed(d)
	d.risk_tier == "low"
	d.fail_mode == "open"
}

# The effective tier is the highest of the declared tier, the action's and
# tools' floors and the agent's registered tier.

test_a_refund_declared_low_is_judged_high if {
	d := tollgate.decision with input as object.union(tool_input("finance", "payments.refund", {"amount": 900}), {"risk_tier": "low"})
	d.risk_tier == "high"
	d.fail_mode == "closed"
	d.decision == "require_approval"
	d.breaker.threshold == 3
}

test_shell_is_critical_whatever_is_declared if {
	d := tollgate.decision with input as object.union(tool_input("engineer", "shell.exec", {"command": "ls"}), {"risk_tier": "low"})
	d.risk_tier == "critical"
	{"type": "audit_sync"} in d.obligations
}

test_an_unknown_tool_is_critical if {
	d := tollgate.decision with input as tool_input("support", "mystery.tool", {})
	d.risk_tier == "critical"
	denied_by(d, {"unknown_tool"})
}

test_a_plan_is_as_risky_as_its_riskiest_step if {
	d := tollgate.decision with input as as_role("engineer", {"type": "plan", "steps": [{"tool": "kb.search"}, {"tool": "shell.exec", "args": {"command": "ls"}}]})
	d.risk_tier == "critical"
}

test_a_plan_step_without_a_tool_is_critical if {
	d := tollgate.decision with input as as_role("engineer", {"type": "plan", "steps": [{"args": {}}]})
	d.risk_tier == "critical"
}

test_spawning_is_at_least_medium if {
	d := tollgate.decision with input as as_role("support", {"type": "spawn_agent", "spawn": {"agent_id": "c", "role": "support", "scopes": []}})
	d.risk_tier == "medium"
}

test_the_agents_registered_tier_raises_every_action if {
	d := tollgate.decision with input as json.patch(base_input, [{"op": "replace", "path": "/identity/registration/risk_tier", "value": "high"}])
	d.risk_tier == "high"
}

test_a_declared_tier_above_the_floor_stands if {
	d := tollgate.decision with input as tier("high")
	d.risk_tier == "high"
}

test_a_layer_may_raise_a_floor if {
	d := tollgate.decision with input as base_input
		with data.tollgate.params.tools["tickets.read"].risk_floor as "high"
	d.risk_tier == "high"
}

test_every_registered_tool_has_a_valid_floor if {
	every name, tool in tollgate.cfg.tools {
		tollgate.tier_rank[tool.risk_floor]
		is_string(name)
	}
}

test_fail_modes_come_from_data if {
	d := tollgate.decision with input as tier("medium")
		with data.tollgate.params.risk_tiers.medium.fail_mode as "closed"
	allowed(d)
	d.fail_mode == "closed"
}
