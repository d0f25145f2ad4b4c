# Sub-agents: a spawned agent gets at most its parent's scopes, a known role
# that is no more privileged than the parent's, and delegation depth is
# bounded.
package tollgate

spawn := input.action.spawn if input.action.type == "spawn_agent"

parent_scopes := {s | some s in object.get(input, ["agent", "scopes"], [])}

child_scopes := {s | some s in object.get(spawn, "scopes", [])}

delegation_depth := object.get(input, ["agent", "delegation_depth"], 0)

deny contains reason("scope_escalation", msg) if {
	extra := child_scopes - parent_scopes
	count(extra) > 0
	msg := sprintf("spawned agent asks for scopes its parent lacks: %s", [concat(", ", sort(extra))])
}

deny contains reason("delegation_depth_exceeded", msg) if {
	spawn
	delegation_depth + 1 > cfg.delegation.max_depth
	msg := sprintf("spawning at depth %v exceeds the maximum delegation depth of %v", [delegation_depth + 1, cfg.delegation.max_depth])
}

deny contains reason("unknown_spawn_role", sprintf("spawned role \"%s\" is not defined", [spawn.role])) if {
	not cfg.roles[spawn.role]
}

deny contains reason("privilege_escalation", msg) if {
	cfg.roles[spawn.role].privileged == true
	not role_privileged
	msg := sprintf("a non-privileged agent may not spawn privileged role \"%s\"", [spawn.role])
}
