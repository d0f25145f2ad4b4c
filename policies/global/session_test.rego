package tollgate_test

import data.tollgate

test_decision_carries_the_budget_limits_of_the_role if {
	d := tollgate.decision with input as tool_input("finance", "tickets.read", {})
	allowed(d)
	d.budget.limits == {"tokens": 100000, "api_calls": 200, "cost_usd": 10, "wall_clock_s": 1800}
}

test_breaker_threshold_follows_the_risk_tier if {
	low := tollgate.decision with input as object.union(base_input, {"risk_tier": "low"})
	allowed(low)
	low.breaker.threshold == 10
	critical := tollgate.decision with input as object.union(base_input, {"risk_tier": "critical"})
	allowed(critical)
	critical.breaker == {"threshold": 2, "window_s": 600, "cooldown_s": 0}
}

test_an_unknown_tier_gets_the_strictest_breaker if {
	d := tollgate.decision with input as object.union(base_input, {"risk_tier": "extreme"})
	denied_by(d, {"invalid_risk_tier"})
	d.breaker == {"threshold": 2, "window_s": 600, "cooldown_s": 0}
}

test_purchase_orders_carry_the_agent_wide_limit if {
	d := tollgate.decision with input as tool_input("finance", "purchasing.create_po", {"amount": 90})
	allowed(d)
	d.agent_limit == {"key": "purchasing.create_po", "max": 200, "window_s": 3600}
}

test_other_tools_have_no_agent_limit if {
	d := tollgate.decision with input as base_input
	allowed(d)
	d.agent_limit == null
}
