# Tool listing: an MCP client's tools/list asks which of an upstream's tools
# (by their Tollgate names, in action.tools) the agent may call. Each gets a
# verdict from what does not depend on a call's arguments: the tool is
# registered and the agent's role allows it, the tool's tier floor is within
# what the agent is certified for, and the session's taint. "deny" tools are
# not listed; "require_approval" tools are listed and marked.
package tollgate

listed_tools := {t | some t in object.get(action, "tools", []); is_string(t)} if action_type == "list_tools"

else := set()

tool_listing[tool] := listing_verdict(tool) if some tool in listed_tools

listing_verdict(tool) := "deny" if {
	not listable(tool)
} else := "deny" if {
	session_taint_applies(tool)
	cfg.data_flows.session_taint.external_tools == "deny"
} else := "require_approval" if {
	session_taint_applies(tool)
} else := "allow"

listable(tool) if {
	cfg.tools[tool]
	role
	role_allows(tool)
	tier_rank[tool_floor(tool)] <= tier_rank[registered_max_tier]
	certified_for(tool)
}

# A tool at a tier that needs a certified agent is listed only while the agent's certification holds.
certified_for(tool) if tier_rank[tool_floor(tool)] < tier_rank[cfg.certification.required_from]

certified_for(_) if certified

deny contains reason("invalid_action", "a list_tools action names the tools in action.tools (an array of strings)") if {
	action_type == "list_tools"
	not string_array(object.get(action, "tools", null))
}
