# Plans: an agent submitting a multi-step plan gets it judged as a whole.
# Too many steps is denied, many write steps need approval, and every step
# must name a tool the role may use.
package tollgate

plan_steps := input.action.steps if input.action.type == "plan"

deny contains reason("plan_too_long", msg) if {
	count(plan_steps) > cfg.plans.max_steps
	msg := sprintf("plan has %v steps; at most %v are allowed", [count(plan_steps), cfg.plans.max_steps])
}

plan_write_steps := count([i | some i, step in plan_steps; cfg.tools[step.tool].effect == "write"])

approval contains reason("plan_write_steps_require_approval", msg) if {
	plan_write_steps >= cfg.plans.approval_write_steps
	msg := sprintf("plan has %v write steps; %v or more need approval", [plan_write_steps, cfg.plans.approval_write_steps])
}

deny contains reason("plan_step_unknown_tool", msg) if {
	some i, step in plan_steps
	not cfg.tools[step.tool]
	msg := sprintf("step %v uses unregistered tool \"%s\"", [i + 1, step.tool])
}

deny contains reason("plan_step_tool_not_allowed", msg) if {
	some i, step in plan_steps
	cfg.tools[step.tool]
	role
	not role_allows(step.tool)
	msg := sprintf("step %v: role \"%s\" may not use tool \"%s\"", [i + 1, role_name, step.tool])
}
