# Budgets: the session's usage so far plus this action's estimate must stay
# within the role's limits in every dimension. Usage comes in the input (the
# session's Durable Object supplies it); missing usage counts as zero.
package tollgate

budget_limits := object.union(cfg.budgets.default, object.get(cfg.budgets.roles, role_name, {}))

estimate(dimension) := object.get(input, ["action", "estimate", dimension], 0)

used(dimension) := object.get(input, ["session", "usage", dimension], 0)

cost := {
	"tokens": estimate("tokens"),
	"api_calls": 1,
	"cost_usd": estimate("cost_usd"),
}

projected_usage := {
	"tokens": used("tokens") + estimate("tokens"),
	"api_calls": used("api_calls") + 1,
	"cost_usd": used("cost_usd") + estimate("cost_usd"),
	"wall_clock_s": used("wall_clock_s"),
}

deny contains reason("budget_exhausted", msg) if {
	some dimension, limit in budget_limits
	projected_usage[dimension] > limit
	msg := sprintf("%s budget exhausted: %v would exceed the limit of %v", [dimension, projected_usage[dimension], limit])
}
