# Plans: an agent submitting a multi-step plan gets it judged as a whole.
# Too many steps is denied, many write steps need approval, every step must
# name a tool the role may use, and no step may use a tool with an
# agent-wide limit (those are counted one call at a time: a plan of them
# would pass uncounted). Each step's arguments are also judged
# by the argument, money and data-flow rules (see tool_uses in tools.rego).
package tollgate

plan_steps := action.steps if {
	action_type == "plan"
	is_array(action.steps)
}

deny contains reason("plan_too_long", msg) if {
	count(plan_steps) > cfg.plans.max_steps
	msg := sprintf("plan has %d steps; at most %v are allowed", [count(plan_steps), cfg.plans.max_steps])
}

plan_write_steps := count([i | some i, step in plan_steps; cfg.tools[step.tool].effect == "write"])

approval contains reason("plan_write_steps_require_approval", msg) if {
	plan_write_steps >= cfg.plans.approval_write_steps
	msg := sprintf("plan has %d write steps; %v or more need approval", [plan_write_steps, cfg.plans.approval_write_steps])
}

deny contains reason("plan_step_unknown_tool", msg) if {
	some i, step in plan_steps
	names_a_tool(step)
	not cfg.tools[step.tool]
	msg := sprintf("step %d uses unregistered tool \"%s\"", [i + 1, step.tool])
}

deny contains reason("plan_step_tool_not_allowed", msg) if {
	some i, step in plan_steps
	names_a_tool(step)
	cfg.tools[step.tool]
	role
	not role_allows(step.tool)
	msg := sprintf("step %d: role \"%s\" may not use tool \"%s\"", [i + 1, role_name, step.tool])
}

deny contains reason("plan_step_agent_limited", msg) if {
	some i, step in plan_steps
	names_a_tool(step)
	cfg.agent_limits[step.tool]
	msg := sprintf("step %d uses tool \"%s\", which has an agent-wide limit: call it on its own (tool_call), where each call is counted", [i + 1, step.tool])
}
