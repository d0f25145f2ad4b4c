# What the session's Durable Objects enforce on the policy's behalf: the
# circuit breaker for this risk tier (a run of denials within a window opens
# it; a cool-down of 0 means only an operator closes it) and agent-wide rate
# limits for tools whose harm is in the aggregate (many purchase orders, each
# small). Budget limits come from budgets.rego.
package tollgate

breaker := cfg.breakers[risk_tier]

agent_limit := object.union(cfg.agent_limits[tool_call], {"key": tool_call}) if cfg.agent_limits[tool_call]

else := null
