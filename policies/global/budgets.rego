# Budgets: the session's usage so far plus this action's estimate must stay
# within the role's limits in every dimension (this call counts as one API
# call, unless it is a free read: caching.rego). Usage comes in the input
# (the session's Durable Object supplies it); missing usage counts as zero, and a usage or estimate that is not a
# non-negative number is denied rather than let it shrink the total.
package tollgate

budget_limits := object.union(cfg.budgets.default, object.get(cfg.budgets.roles, role_name, {}))

countable(x) if {
	is_number(x)
	x >= 0
}

estimate(dimension) := x if {
	x := object.get(input, ["action", "estimate", dimension], 0)
	countable(x)
} else := 0

used(dimension) := x if {
	x := object.get(input, ["session", "usage", dimension], 0)
	countable(x)
} else := 0

cost := {
	"tokens": estimate("tokens"),
	"api_calls": call_cost,
	"cost_usd": estimate("cost_usd"),
}

projected_usage := {
	"tokens": used("tokens") + estimate("tokens"),
	"api_calls": used("api_calls") + call_cost,
	"cost_usd": used("cost_usd") + estimate("cost_usd"),
	"wall_clock_s": used("wall_clock_s"),
}

deny contains reason("budget_exhausted", msg) if {
	some dimension, limit in budget_limits
	projected_usage[dimension] > limit
	msg := sprintf("%s budget exhausted: %v would exceed the limit of %v", [dimension, projected_usage[dimension], limit])
}

deny contains reason("invalid_estimate", msg) if {
	some dimension, x in object.get(input, ["action", "estimate"], {})
	budget_limits[dimension]
	not countable(x)
	msg := sprintf("action.estimate.%s must be a non-negative number", [dimension])
}

deny contains reason("invalid_estimate", "action.estimate must be an object") if {
	not is_object(object.get(input, ["action", "estimate"], {}))
}

deny contains reason("invalid_usage", msg) if {
	some dimension, x in object.get(input, ["session", "usage"], {})
	budget_limits[dimension]
	not countable(x)
	msg := sprintf("session.usage.%s must be a non-negative number", [dimension])
}

deny contains reason("invalid_usage", "session.usage must be an object") if {
	not is_object(object.get(input, ["session", "usage"], {}))
}
