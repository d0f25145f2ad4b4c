package tollgate_test

import data.tollgate

usage(u, estimate) := object.union(base_input, {
	"session": {"id": "s-1", "usage": u},
	"action": object.union(base_input.action, {"estimate": estimate}),
})

test_usage_within_limits_is_allowed if {
	d := tollgate.decision with input as usage({"tokens": 1000, "api_calls": 10, "cost_usd": 1, "wall_clock_s": 60}, {"tokens": 100})
	allowed(d)
}

test_tokens_exactly_at_the_limit_are_allowed if {
	d := tollgate.decision with input as usage({"tokens": 199900}, {"tokens": 100})
	allowed(d)
}

test_tokens_over_the_limit_are_denied if {
	d := tollgate.decision with input as usage({"tokens": 199901}, {"tokens": 100})
	denied_by(d, {"budget_exhausted"})
	d.reasons[0].message == "tokens budget exhausted: 200001 would exceed the limit of 200000"
}

test_the_last_api_call_is_allowed_and_the_next_denied if {
	last := tollgate.decision with input as usage({"api_calls": 499}, {})
	allowed(last)
	next := tollgate.decision with input as usage({"api_calls": 500}, {})
	denied_by(next, {"budget_exhausted"})
	startswith(next.reasons[0].message, "api_calls budget exhausted")
}

test_cost_at_the_limit_is_allowed_and_over_it_denied if {
	at := tollgate.decision with input as usage({"cost_usd": 19.98}, {"cost_usd": 0.02})
	allowed(at)
	over := tollgate.decision with input as usage({"cost_usd": 19.99}, {"cost_usd": 0.02})
	denied_by(over, {"budget_exhausted"})
	over.reasons[0].message == "cost_usd budget exhausted: 20.01 would exceed the limit of 20"
}

test_wall_clock_at_and_over_the_limit if {
	at := tollgate.decision with input as usage({"wall_clock_s": 3600}, {})
	allowed(at)
	over := tollgate.decision with input as usage({"wall_clock_s": 3601}, {})
	denied_by(over, {"budget_exhausted"})
	startswith(over.reasons[0].message, "wall_clock_s budget exhausted")
}

test_missing_usage_counts_as_zero if {
	inp := json.remove(base_input, ["session/usage"])
	d := tollgate.decision with input as inp
	allowed(d)
}

test_negative_estimate_cannot_shrink_usage if {
	d := tollgate.decision with input as usage({"tokens": 300000}, {"tokens": -200000})
	denied_by(d, {"budget_exhausted", "invalid_estimate"})
	d.cost.tokens == 0
}

test_non_numeric_usage_is_denied if {
	d := tollgate.decision with input as usage({"tokens": "lots"}, {})
	denied_by(d, {"invalid_usage"})
}

test_role_limits_override_the_default if {
	inp := object.union(tool_input("researcher", "kb.search", {}), {"session": {"id": "s", "usage": {"tokens": 500000}}})
	d := tollgate.decision with input as inp
	allowed(d)
}

test_cost_reports_the_estimate if {
	d := tollgate.decision with input as usage({}, {"tokens": 40, "cost_usd": 0.02})
	allowed(d)
	d.cost == {"tokens": 40, "api_calls": 1, "cost_usd": 0.02}
}
