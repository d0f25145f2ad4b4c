package tollgate_test

import data.tollgate

steps(n, tool) := [{"tool": tool, "args": {}} | some _ in numbers.range(1, n)]

plan(s) := object.union(base_input, {"action": {"type": "plan", "steps": s}})

test_plan_of_20_steps_is_allowed if {
	d := tollgate.decision with input as plan(steps(20, "tickets.read"))
	d.decision == "allow"
}

test_plan_of_21_steps_is_denied if {
	d := tollgate.decision with input as plan(steps(21, "tickets.read"))
	rules(d) == {"plan_too_long"}
}

test_plan_with_two_writes_is_allowed if {
	d := tollgate.decision with input as plan(array.concat(steps(2, "tickets.write"), steps(3, "kb.search")))
	d.decision == "allow"
}

test_plan_with_three_writes_requires_approval if {
	d := tollgate.decision with input as plan(steps(3, "tickets.write"))
	d.decision == "require_approval"
	rules(d) == {"plan_write_steps_require_approval"}
}

test_plan_step_outside_role_is_denied if {
	d := tollgate.decision with input as plan(array.concat(steps(1, "kb.search"), steps(1, "payments.refund")))
	rules(d) == {"plan_step_tool_not_allowed"}
	contains(d.reasons[0].message, "step 2")
}

test_plan_step_with_unknown_tool_is_denied if {
	d := tollgate.decision with input as plan(steps(1, "teleport.now"))
	rules(d) == {"plan_step_unknown_tool"}
}
