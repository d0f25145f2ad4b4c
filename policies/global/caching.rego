# Reusable decisions: an allowed read of a tool whose registry entry names a
# cache_ttl_s, in a tier the data lets be cached, with nothing that makes it
# more than a plain read (no estimate, no data classes, no approval used),
# may be reused by the agent for that long without asking again (ttl_s on
# the decision, bound into its signed receipt). Such a read is free: it
# costs no API call, because a reuse the edge never sees could not be
# metered. Everything else has ttl_s 0 and costs one call.
package tollgate

cacheable_read if {
	tool_call
	tool := cfg.tools[tool_call]
	tool.effect == "read"

	# An external tool is never reused: the session may read sensitive data in between (session taint).
	tool.tier != "external"
	is_number(tool.cache_ttl_s)
	tool.cache_ttl_s > 0
	risk_tier in cfg.caching.tiers
	count(data_classes) == 0
	object.get(action, "estimate", {}) == {}
	not input.approval_id
}

ttl_s := min({cfg.tools[tool_call].cache_ttl_s, cfg.caching.max_ttl_s}) if {
	cacheable_read
	verdict == "allow"
} else := 0

call_cost := 0 if cacheable_read

else := 1
