package tollgate_test

import data.tollgate

usage(u, estimate) := object.union(base_input, {
	"session": {"id": "s-1", "usage": u},
	"action": object.union(base_input.action, {"estimate": estimate}),
})

test_usage_within_limits_is_allowed if {
	d := tollgate.decision with input as usage({"tokens": 1000, "api_calls": 10, "cost_usd": 1, "wall_clock_s": 60}, {"tokens": 100})
	d.decision == "allow"
}

test_tokens_exactly_at_the_limit_are_allowed if {
	d := tollgate.decision with input as usage({"tokens": 199900}, {"tokens": 100})
	d.decision == "allow"
}

test_tokens_over_the_limit_are_denied if {
	d := tollgate.decision with input as usage({"tokens": 199901}, {"tokens": 100})
	rules(d) == {"budget_exhausted"}
	contains(d.reasons[0].message, "tokens")
}

test_the_last_api_call_is_allowed_and_the_next_denied if {
	last := tollgate.decision with input as usage({"api_calls": 499}, {})
	last.decision == "allow"
	next := tollgate.decision with input as usage({"api_calls": 500}, {})
	rules(next) == {"budget_exhausted"}
}

test_cost_over_the_limit_is_denied if {
	d := tollgate.decision with input as usage({"cost_usd": 19.99}, {"cost_usd": 0.02})
	rules(d) == {"budget_exhausted"}
}

test_wall_clock_over_the_limit_is_denied if {
	d := tollgate.decision with input as usage({"wall_clock_s": 3601}, {})
	rules(d) == {"budget_exhausted"}
}

test_missing_usage_counts_as_zero if {
	inp := json.remove(base_input, ["session/usage"])
	d := tollgate.decision with input as inp
	d.decision == "allow"
}

test_role_limits_override_the_default if {
	inp := object.union(tool_input("researcher", "kb.search", {}), {"session": {"id": "s", "usage": {"tokens": 500000}}})
	d := tollgate.decision with input as inp
	d.decision == "allow"
}
