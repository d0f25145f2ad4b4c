package tollgate_test

import data.tollgate

classified(role, tool, classes) := object.union(tool_input(role, tool, {}), {"action": {"type": "tool_call", "tool": tool, "args": {}, "data_classes": classes}})

test_pii_to_external_tool_is_denied if {
	d := tollgate.decision with input as classified("support", "email.send", ["pii"])
	d.decision == "deny"
	"sensitive_data_to_external_tool" in rules(d)
}

test_confidential_to_external_tool_is_denied if {
	d := tollgate.decision with input as classified("analyst", "web.fetch", ["confidential"])
	rules(d) == {"sensitive_data_to_external_tool"}
}

test_public_data_to_external_tool_is_allowed if {
	d := tollgate.decision with input as classified("support", "email.send", ["public"])
	d.decision == "allow"
}

test_pii_to_internal_tool_by_support_requires_approval if {
	d := tollgate.decision with input as classified("support", "tickets.read", ["pii"])
	d.decision == "require_approval"
	rules(d) == {"pii_access_requires_approval"}
	{"type": "redact", "fields": ["args"]} in d.obligations
}

test_pii_by_privileged_role_is_allowed if {
	d := tollgate.decision with input as classified("admin", "tickets.read", ["pii"])
	d.decision == "allow"
}

test_pii_to_external_tool_by_admin_is_still_denied if {
	d := tollgate.decision with input as classified("admin", "email.send", ["pii"])
	rules(d) == {"sensitive_data_to_external_tool"}
}
