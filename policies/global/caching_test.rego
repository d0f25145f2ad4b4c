package tollgate_test

import data.tollgate

search(role) := tool_input(role, "kb.search", {"q": "refund policy"})

test_an_allowed_search_may_be_reused_and_costs_no_call if {
	d := tollgate.decision with input as object.union(search("support"), {"risk_tier": "low"})
	allowed(d)
	d.ttl_s == 300
	d.cost.api_calls == 0
}

test_a_write_is_never_reusable if {
	d := tollgate.decision with input as tool_input("support", "tickets.write", {"id": "T-1", "body": "x"})
	d.ttl_s == 0
	d.cost.api_calls == 1
}

test_a_read_without_a_cache_ttl_is_not_reusable if {
	d := tollgate.decision with input as base_input
	allowed(d)
	d.ttl_s == 0
	d.cost.api_calls == 1
}

test_a_read_with_data_classes_is_not_reusable if {
	inp := as_role("support", {"type": "tool_call", "tool": "kb.search", "args": {}, "data_classes": ["confidential"]})
	d := tollgate.decision with input as inp
	d.ttl_s == 0
	d.cost.api_calls == 1
}

test_a_read_with_an_estimate_is_not_reusable if {
	inp := as_role("support", {"type": "tool_call", "tool": "kb.search", "args": {}, "estimate": {"tokens": 10}})
	d := tollgate.decision with input as inp
	d.ttl_s == 0
}

test_a_read_in_a_tier_not_cached_is_not_reusable if {
	d := tollgate.decision with input as object.union(search("support"), {"risk_tier": "high"})
	d.ttl_s == 0
	d.cost.api_calls == 1
}

test_a_denied_read_is_not_reusable if {
	d := tollgate.decision with input as object.union(search("nobody"), {"risk_tier": "low"})
	d.decision == "deny"
	d.ttl_s == 0
}

test_the_data_caps_the_ttl if {
	d := tollgate.decision with input as object.union(search("support"), {"risk_tier": "low"})
		with data.tollgate.params.caching.max_ttl_s as 30
	d.ttl_s == 30
}

test_a_free_read_is_still_denied_once_the_calls_are_spent if {
	inp := object.union(search("support"), {"risk_tier": "low", "session": {"id": "s", "usage": {"api_calls": 501}}})
	d := tollgate.decision with input as inp
	denied_by(d, {"budget_exhausted"})
}
