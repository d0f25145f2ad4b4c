# Tools by agent role: a tool call must name a registered tool that the
# agent's role allows ("*" allows every registered tool). Also defines the
# tool uses an action asks for, which the argument, money and data-flow rules
# judge one by one: the tool call itself, or every step of a plan.
package tollgate

role_name := name if name := object.get(input, ["agent", "role"], "")

else := ""

role := cfg.roles[role_name]

role_allows(_) if "*" in role.tools

role_allows(tool) if tool in role.tools

role_privileged if role.privileged == true

tool_call := action.tool if {
	action_type == "tool_call"
	is_string(action.tool)
}

# Each use, by its place (0 for a tool call, N for step N of a plan): where
# it is ("" for a tool call, "step N: " for a plan step, a prefix for
# messages), the tool and its args. Keyed by place rather than gathered in a
# set, because a set hashes each use, its args included, on every insert,
# and so does every set built from it: for a plan that was most of its
# evaluation.
tool_uses[0] := {"at": "", "tool": tool_call, "args": object.get(action, "args", {})} if tool_call

# The prefix is built with concat and format_int, which run inside the wasm,
# rather than sprintf, a call out to the host: this runs for every step of
# every plan, and a plan of 20 steps spent most of its evaluation in sprintf.
tool_uses[n] := {"at": concat("", ["step ", format_int(n, 10), ": "]), "tool": step.tool, "args": object.get(step, "args", {})} if {
	some i, step in plan_steps
	names_a_tool(step)
	n := i + 1
}

# The uses of each tool, by place, gathered in one pass: a rule about one
# tool reads its own uses rather than scanning every step of a plan again.
uses_of_tool[tool][n] := use if {
	some n, use in tool_uses
	tool := use.tool
}

# The uses of tools that reach outside (tier "external"), by place, for the data-flow rules.
external_uses[n] := use if {
	some n, use in tool_uses
	cfg.tools[use.tool].tier == "external"
}

deny contains reason("unknown_role", sprintf("role \"%s\" is not defined", [describe(role_name)])) if {
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
