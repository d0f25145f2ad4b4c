package tollgate_test

import data.tollgate

test_support_reads_a_ticket if {
	d := tollgate.decision with input as base_input
	d.decision == "allow"
	d.reasons == []
}

test_unknown_tool_is_denied if {
	d := tollgate.decision with input as tool_input("support", "teleport.now", {})
	d.decision == "deny"
	rules(d) == {"unknown_tool"}
}

test_tool_outside_role_allowlist_is_denied if {
	d := tollgate.decision with input as tool_input("support", "shell.exec", {"command": "ls"})
	d.decision == "deny"
	rules(d) == {"tool_not_allowed_for_role"}
}

test_unknown_role_is_denied if {
	d := tollgate.decision with input as with_role("pirate")
	d.decision == "deny"
	rules(d) == {"unknown_role"}
}

test_admin_wildcard_allows_any_registered_tool if {
	d := tollgate.decision with input as tool_input("admin", "db.query", {"sql": "select 1"})
	d.decision == "allow"
}

test_admin_wildcard_does_not_allow_unregistered_tools if {
	d := tollgate.decision with input as tool_input("admin", "teleport.now", {})
	rules(d) == {"unknown_tool"}
}

test_allowlist_comes_from_data if {
	d := tollgate.decision with input as tool_input("support", "shell.exec", {"command": "ls"})
		with data.tollgate.params.roles.support.tools as ["shell.exec"]
	d.decision == "allow"
}

test_empty_input_is_denied_and_fails_closed if {
	d := tollgate.decision with input as {}
	d.decision == "deny"
	"invalid_risk_tier" in rules(d)
	d.fail_mode == "closed"
}
