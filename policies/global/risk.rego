# Risk tiers. The tier a decision is judged at is the highest of the tier
# the caller declared (low when it declared none), the floor policy data sets
# for the action type and for every tool the action uses (an unknown tool is
# critical), and the tier the agent is registered at. The edge computes the
# same from the same data before it evaluates (src/decision/effective-tier.ts),
# so its fail mode applies at this tier even when the policy cannot answer.
# The decision carries the tier's fail mode; a critical decision is not
# returned before its audit record is acknowledged.
package tollgate

tier_names := ["low", "medium", "high", "critical"]

tier_rank := {"low": 0, "medium": 1, "high": 2, "critical": 3}

declared_tier := t if {
	t := object.get(input, "risk_tier", "low")
	tier_rank[t]
} else := "critical"

invalid contains reason("invalid_risk_tier", msg) if {
	not tier_rank[object.get(input, "risk_tier", "low")]
	msg := sprintf("risk_tier must be one of %s", [concat(", ", tier_names)])
}

tier_or_critical(t) := t if tier_rank[t]

else := "critical"

tool_floor(tool) := tier_or_critical(cfg.tools[tool].risk_floor) if is_string(tool)

else := tier_or_critical(cfg.risk.unknown_tool_floor)

action_floor := tier_or_critical(cfg.risk.action_floors[action_type]) if is_string(action_type)

else := tier_or_critical(cfg.risk.unknown_action_floor)

# Every tool the action uses, whatever shape it is in (the floor of a
# malformed one is the unknown tool's).
action_tools contains object.get(action, "tool", null) if action_type == "tool_call"

action_tools contains step_tool(step) if some step in plan_steps

step_tool(step) := object.get(step, "tool", null) if is_object(step)

else := null

registered_tier := t if {
	t := input.identity.registration.risk_tier
	tier_rank[t]
} else := "low"

tier_floors contains declared_tier

tier_floors contains registered_tier

tier_floors contains action_floor

tier_floors contains tool_floor(tool) if some tool in action_tools

risk_tier := tier_names[max({tier_rank[t] | some t in tier_floors})]

fail_mode := cfg.risk_tiers[risk_tier].fail_mode

obligations contains {"type": "audit_sync"} if risk_tier == "critical"
