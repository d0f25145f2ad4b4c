package tollgate_test

import data.tollgate

test_support_reads_a_ticket if {
	d := tollgate.decision with input as base_input
	allowed(d)
	d.cost == {"tokens": 0, "api_calls": 1, "cost_usd": 0}
	d.ttl_s == 0
	d.obligations == []
}

test_unknown_tool_is_denied if {
	d := tollgate.decision with input as tool_input("support", "teleport.now", {})
	denied_by(d, {"unknown_tool"})
	d.reasons[0].message == "tool \"teleport.now\" is not registered"
}

test_tool_outside_role_allowlist_is_denied if {
	d := tollgate.decision with input as tool_input("support", "shell.exec", {"command": "ls"})
	denied_by(d, {"tool_not_allowed_for_role"})
	d.reasons[0].message == "role \"support\" may not use tool \"shell.exec\""
}

test_unknown_role_is_denied if {
	d := tollgate.decision with input as with_role("pirate")
	denied_by(d, {"unknown_role"})
}

test_a_non_string_role_is_an_unknown_role if {
	d := tollgate.decision with input as with_role(7)
	denied_by(d, {"unknown_role"})
	d.reasons[0].message == "role \"<number>\" is not defined"
}

test_privileged_claim_in_input_is_ignored if {
	inp := object.union(tool_input("support", "db.query", {}), {"agent": {"id": "a", "role": "support", "privileged": true}})
	d := tollgate.decision with input as inp
	denied_by(d, {"tool_not_allowed_for_role"})
}

test_admin_wildcard_allows_any_registered_tool if {
	d := tollgate.decision with input as tool_input("admin", "db.query", {"sql": "select 1"})
	allowed(d)
}

test_admin_wildcard_does_not_allow_unregistered_tools if {
	d := tollgate.decision with input as tool_input("admin", "teleport.now", {})
	denied_by(d, {"unknown_tool"})
}

test_allowlist_comes_from_data if {
	d := tollgate.decision with input as tool_input("support", "shell.exec", {"command": "ls"})
		with data.tollgate.params.roles.support.tools as ["shell.exec"]
	allowed(d)
}
