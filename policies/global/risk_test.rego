package tollgate_test

import data.tollgate

tier(t) := object.union(base_input, {"risk_tier": t})

test_low_tier_fails_open if {
	d := tollgate.decision with input as tier("low")
	d.fail_mode == "open"
	d.risk_tier == "low"
}

test_medium_tier_fails_open if {
	d := tollgate.decision with input as tier("medium")
	d.fail_mode == "open"
}

test_high_tier_fails_closed if {
	d := tollgate.decision with input as tier("high")
	d.fail_mode == "closed"
}

test_critical_tier_fails_closed if {
	d := tollgate.decision with input as tier("critical")
	d.fail_mode == "closed"
	d.decision == "allow"
}

test_unknown_tier_is_denied if {
	d := tollgate.decision with input as tier("extreme")
	d.decision == "deny"
	rules(d) == {"invalid_risk_tier"}
	d.risk_tier == "unknown"
}

test_cost_reports_the_estimate if {
	inp := object.union(base_input, {"action": object.union(base_input.action, {"estimate": {"tokens": 40, "cost_usd": 0.02}})})
	d := tollgate.decision with input as inp
	d.cost == {"tokens": 40, "api_calls": 1, "cost_usd": 0.02}
}
