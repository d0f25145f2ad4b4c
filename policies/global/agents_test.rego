package tollgate_test

import data.tollgate

spawn(depth, role, scopes) := object.union(base_input, {
	"agent": object.union(base_input.agent, {"delegation_depth": depth}),
	"action": {"type": "spawn_agent", "spawn": {"agent_id": "child-1", "role": role, "scopes": scopes}},
})

test_spawn_with_subset_of_scopes_is_allowed if {
	d := tollgate.decision with input as spawn(0, "researcher", ["kb:read"])
	d.decision == "allow"
}

test_spawn_with_equal_scopes_is_allowed if {
	d := tollgate.decision with input as spawn(0, "researcher", ["kb:read", "tickets:read"])
	d.decision == "allow"
}

test_spawn_with_extra_scope_is_denied if {
	d := tollgate.decision with input as spawn(0, "researcher", ["kb:read", "payments:write"])
	rules(d) == {"scope_escalation"}
	contains(d.reasons[0].message, "payments:write")
}

test_spawn_at_the_depth_bound_is_allowed if {
	d := tollgate.decision with input as spawn(2, "researcher", [])
	d.decision == "allow"
}

test_spawn_beyond_the_depth_bound_is_denied if {
	d := tollgate.decision with input as spawn(3, "researcher", [])
	rules(d) == {"delegation_depth_exceeded"}
}

test_spawn_of_unknown_role_is_denied if {
	d := tollgate.decision with input as spawn(0, "ghost", [])
	rules(d) == {"unknown_spawn_role"}
}

test_spawn_of_privileged_role_by_unprivileged_agent_is_denied if {
	d := tollgate.decision with input as spawn(0, "admin", [])
	rules(d) == {"privilege_escalation"}
}
