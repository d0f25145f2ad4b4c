package tollgate_test

import data.tollgate

steps(n, tool) := [{"tool": tool, "args": {}} | some _ in numbers.range(1, n)]

plan(s) := with_action({"type": "plan", "steps": s})

test_plan_of_20_steps_is_allowed if {
	d := tollgate.decision with input as plan(steps(20, "tickets.read"))
	allowed(d)
}

test_plan_of_21_steps_is_denied if {
	d := tollgate.decision with input as plan(steps(21, "tickets.read"))
	denied_by(d, {"plan_too_long"})
	d.reasons[0].message == "plan has 21 steps; at most 20 are allowed"
}

test_plan_with_two_writes_is_allowed if {
	d := tollgate.decision with input as plan(array.concat(steps(2, "tickets.write"), steps(3, "kb.search")))
	allowed(d)
}

test_plan_with_three_writes_requires_approval if {
	d := tollgate.decision with input as plan(array.concat(steps(3, "tickets.write"), steps(1, "kb.search")))
	d.decision == "require_approval"
	rules(d) == {"plan_write_steps_require_approval"}
}

test_plan_step_outside_role_is_denied if {
	d := tollgate.decision with input as plan([{"tool": "kb.search"}, {"tool": "payments.refund", "args": {"amount": 10}}])
	denied_by(d, {"plan_step_tool_not_allowed"})
	d.reasons[0].message == "step 2: role \"support\" may not use tool \"payments.refund\""
}

test_plan_step_with_unknown_tool_is_denied if {
	d := tollgate.decision with input as plan(steps(1, "teleport.now"))
	denied_by(d, {"plan_step_unknown_tool"})
}

test_plan_without_steps_is_denied if {
	d := tollgate.decision with input as with_action({"type": "plan", "steps": "do everything"})
	denied_by(d, {"invalid_action"})
}

test_plan_step_without_a_tool_is_denied if {
	d := tollgate.decision with input as plan([{"tool": "kb.search"}, "then delete it"])
	denied_by(d, {"invalid_action"})
	d.reasons[0].message == "plan step 2 is not an object naming its tool"
}

test_plan_step_arguments_are_judged if {
	inp := as_role("engineer", {"type": "plan", "steps": [
		{"tool": "files.read", "args": {"path": "/workspace/a"}},
		{"tool": "shell.exec", "args": {"command": "rm -rf /"}},
	]})
	d := tollgate.decision with input as inp
	denied_by(d, {"dangerous_shell_command"})
	startswith(d.reasons[0].message, "step 2: command matches")
}

test_plan_refund_step_over_the_threshold_requires_approval if {
	inp := as_role("finance", {"type": "plan", "steps": [{"tool": "payments.refund", "args": {"amount": 800}}]})
	d := tollgate.decision with input as inp
	d.decision == "require_approval"
	rules(d) == {"refund_requires_approval"}
	d.reasons[0].message == "step 1: refund of 800 is above the approval threshold of 500"
}

test_plan_sending_pii_out_is_denied if {
	inp := with_action({"type": "plan", "data_classes": ["confidential"], "steps": [{"tool": "tickets.read"}, {"tool": "email.send"}]})
	d := tollgate.decision with input as inp
	denied_by(d, {"sensitive_data_to_external_tool"})
	startswith(d.reasons[0].message, "step 2: ")
}

test_plan_limits_come_from_data if {
	d := tollgate.decision with input as plan(steps(2, "tickets.write"))
		with data.tollgate.params.plans.approval_write_steps as 2
	d.decision == "require_approval"
	rules(d) == {"plan_write_steps_require_approval"}
}

test_plan_with_an_agent_limited_tool_is_denied if {
	inp := as_role("finance", {"type": "plan", "steps": [{"tool": "tickets.read", "args": {}}, {"tool": "purchasing.create_po", "args": {"amount": 10, "vendor": "v"}}]})
	d := tollgate.decision with input as inp
	denied_by(d, {"plan_step_agent_limited"})
	d.reasons[0].message == "step 2 uses tool \"purchasing.create_po\", which has an agent-wide limit: call it on its own (tool_call), where each call is counted"
}

test_plan_without_agent_limited_tools_is_not_refused_for_them if {
	inp := as_role("finance", {"type": "plan", "steps": [{"tool": "tickets.read", "args": {}}, {"tool": "payments.refund", "args": {"amount": 10, "currency": "EUR"}}]})
	d := tollgate.decision with input as inp
	not "plan_step_agent_limited" in rules(d)
}
