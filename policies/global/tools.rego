# Tools by agent role: a tool call must name a registered tool that the
# agent's role allows ("*" allows every registered tool).
package tollgate

role_name := object.get(input, ["agent", "role"], "")

role := cfg.roles[role_name]

role_allows(_) if "*" in role.tools

role_allows(tool) if tool in role.tools

role_privileged if role.privileged == true

tool_call := input.action.tool if input.action.type == "tool_call"

deny contains reason("unknown_role", sprintf("role \"%s\" is not defined", [role_name])) if {
	not cfg.roles[role_name]
}

deny contains reason("unknown_tool", sprintf("tool \"%s\" is not registered", [tool_call])) if {
	not cfg.tools[tool_call]
}

deny contains reason("tool_not_allowed_for_role", msg) if {
	cfg.tools[tool_call]
	role
	not role_allows(tool_call)
	msg := sprintf("role \"%s\" may not use tool \"%s\"", [role_name, tool_call])
}
