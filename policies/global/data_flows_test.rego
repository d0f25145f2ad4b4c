package tollgate_test

import data.tollgate

classified(role, tool, classes) := as_role(role, {"type": "tool_call", "tool": tool, "args": {}, "data_classes": classes})

test_pii_to_external_tool_is_denied if {
	d := tollgate.decision with input as classified("support", "email.send", ["pii"])
	denied_by(d, {"sensitive_data_to_external_tool", "pii_access_requires_approval"})
}

test_confidential_to_external_tool_is_denied if {
	d := tollgate.decision with input as classified("analyst", "web.fetch", ["confidential"])
	denied_by(d, {"sensitive_data_to_external_tool"})
	d.reasons[0].message == "confidential data may not go to external tool \"web.fetch\""
}

test_public_data_to_external_tool_is_allowed if {
	d := tollgate.decision with input as classified("support", "email.send", ["public", "internal"])
	allowed(d)
}

test_confidential_to_internal_tool_is_allowed if {
	d := tollgate.decision with input as classified("analyst", "db.query", ["confidential"])
	allowed(d)
}

test_pii_to_internal_tool_by_support_requires_approval if {
	d := tollgate.decision with input as classified("support", "tickets.read", ["pii"])
	d.decision == "require_approval"
	rules(d) == {"pii_access_requires_approval"}
	d.obligations == [{"type": "redact", "fields": ["args"]}]
}

test_pii_by_privileged_role_is_allowed_but_redacted if {
	d := tollgate.decision with input as classified("admin", "tickets.read", ["pii"])
	allowed(d)
	d.obligations == [{"type": "redact", "fields": ["args"]}]
}

test_pii_to_external_tool_by_admin_is_still_denied if {
	d := tollgate.decision with input as classified("admin", "email.send", ["pii"])
	denied_by(d, {"sensitive_data_to_external_tool"})
}

test_sensitive_classes_come_from_data if {
	d := tollgate.decision with input as classified("support", "slack.post", ["health"])
		with data.tollgate.params.data_flows.sensitive_classes as ["pii", "confidential", "health"]
	denied_by(d, {"sensitive_data_to_external_tool"})
}

tainted(role, tool, classes) := object.union(tool_input(role, tool, {}), {"session": {"id": "s-1", "data_classes": classes}})

test_after_pii_was_read_an_external_tool_needs_approval if {
	d := tollgate.decision with input as tainted("support", "email.send", ["pii"])
	d.decision == "require_approval"
	rules(d) == {"session_data_to_external_tool"}
	d.reasons[0].message == "the agent has read pii data, in this session or another, which may not leave through external tool \"email.send\""
}

test_after_pii_was_read_an_external_tool_is_denied_when_policy_data_says_so if {
	d := tollgate.decision with input as tainted("support", "email.send", ["pii"])
		with data.tollgate.params.data_flows.session_taint.external_tools as "deny"
	denied_by(d, {"session_data_to_external_tool"})
}

test_after_pii_was_read_an_internal_tool_is_still_allowed if {
	d := tollgate.decision with input as tainted("support", "tickets.read", ["pii"])
	allowed(d)
}

test_a_session_with_only_public_data_reaches_external_tools if {
	d := tollgate.decision with input as tainted("support", "email.send", ["public"])
	allowed(d)
}

test_a_plan_step_to_an_external_tool_after_confidential_data_needs_approval if {
	plan := object.union(as_role("analyst", {"type": "plan", "steps": [{"tool": "db.query"}, {"tool": "web.fetch"}]}), {"session": {"id": "s-1", "data_classes": ["confidential"]}})
	d := tollgate.decision with input as plan
	d.decision == "require_approval"
	d.reasons[0].message == "step 2: the agent has read confidential data, in this session or another, which may not leave through external tool \"web.fetch\""
}

test_session_data_classes_that_are_not_strings_are_refused if {
	d := tollgate.decision with input as tainted("support", "tickets.read", "pii")
	"invalid_session_data_classes" in rules(d)
}
