package tollgate_test

import data.tollgate

spawn(depth, role, scopes) := object.union(with_action({"type": "spawn_agent", "spawn": {"agent_id": "child-1", "role": role, "scopes": scopes}}), {"agent": {"delegation_depth": depth}})

test_spawn_with_subset_of_scopes_is_allowed if {
	d := tollgate.decision with input as spawn(0, "triage", ["kb:read"])
	allowed(d)
}

test_spawn_with_equal_scopes_is_allowed if {
	d := tollgate.decision with input as spawn(0, "triage", ["kb:read", "tickets:read"])
	allowed(d)
}

test_spawn_without_scopes_is_allowed if {
	inp := json.remove(spawn(0, "triage", []), ["action/spawn/scopes"])
	d := tollgate.decision with input as inp
	allowed(d)
}

test_spawn_with_extra_scope_is_denied if {
	d := tollgate.decision with input as spawn(0, "triage", ["kb:read", "payments:write", "admin:all"])
	denied_by(d, {"scope_escalation"})
	d.reasons[0].message == "spawned agent asks for scopes its parent lacks: admin:all, payments:write"
}

test_spawn_by_a_parent_without_scopes_is_denied_any_scope if {
	inp := json.remove(spawn(0, "triage", ["kb:read"]), ["agent/scopes"])
	d := tollgate.decision with input as inp
	denied_by(d, {"scope_escalation"})
}

test_spawn_with_non_string_scopes_is_denied if {
	d := tollgate.decision with input as spawn(0, "triage", [1])
	denied_by(d, {"scope_escalation", "invalid_action"})
}

test_spawn_at_the_depth_bound_is_allowed if {
	d := tollgate.decision with input as spawn(2, "triage", [])
	allowed(d)
}

test_spawn_beyond_the_depth_bound_is_denied if {
	d := tollgate.decision with input as spawn(3, "triage", [])
	denied_by(d, {"delegation_depth_exceeded"})
	d.reasons[0].message == "spawning at depth 4 exceeds the maximum delegation depth of 3"
}

test_invalid_delegation_depth_is_denied if {
	d := tollgate.decision with input as spawn("9", "triage", [])
	denied_by(d, {"invalid_delegation_depth"})
}

test_negative_or_fractional_depth_is_denied if {
	neg := tollgate.decision with input as spawn(-1, "triage", [])
	denied_by(neg, {"invalid_delegation_depth"})
	frac := tollgate.decision with input as spawn(1.5, "triage", [])
	denied_by(frac, {"invalid_delegation_depth"})
}

test_spawn_of_unknown_role_is_denied if {
	d := tollgate.decision with input as spawn(0, "ghost", [])
	denied_by(d, {"unknown_spawn_role"})
}

test_spawn_without_the_agent_is_denied if {
	d := tollgate.decision with input as with_action({"type": "spawn_agent"})
	denied_by(d, {"invalid_action"})
}

test_spawn_of_privileged_role_by_unprivileged_agent_is_denied if {
	d := tollgate.decision with input as spawn(0, "admin", [])
	denied_by(d, {"privilege_escalation", "role_escalation"})
}

test_spawn_of_privileged_role_by_privileged_agent_is_allowed if {
	inp := object.union(spawn(0, "admin", []), {"agent": {"id": "root", "role": "admin", "scopes": []}})
	d := tollgate.decision with input as inp
	allowed(d)
}

test_max_depth_comes_from_data if {
	d := tollgate.decision with input as spawn(3, "triage", [])
		with data.tollgate.params.delegation.max_depth as 4
	allowed(d)
}

test_spawn_of_a_role_with_tools_the_parent_lacks_is_denied if {
	d := tollgate.decision with input as spawn(0, "researcher", [])
	denied_by(d, {"role_escalation"})
	d.reasons[0].message == "role \"support\" may not spawn role \"researcher\", which may use tools it may not: web.fetch"
}

test_spawn_of_a_role_whose_tools_the_parent_has_is_allowed if {
	inp := object.union(spawn(0, "researcher", []), {"agent": {"role": "engineer"}})
	d := tollgate.decision with input as inp
	allowed(d)
}

test_spawn_of_a_wildcard_role_needs_a_wildcard_parent if {
	inp := object.union(spawn(0, "admin", []), {"agent": {"role": "engineer"}})
	d := tollgate.decision with input as inp
	denied_by(d, {"privilege_escalation", "role_escalation"})
}
