# Sub-agents: a spawned agent gets at most its parent's scopes, a known role
# that is no more privileged than the parent's and may use no tool the
# parent's role may not, and delegation depth is bounded. The parent's depth
# must be a non-negative integer.
package tollgate

spawn := action.spawn if {
	action_type == "spawn_agent"
	is_object(action.spawn)
}

spawn_role := spawn.role if is_string(spawn.role)

# Scopes that are not strings grant nothing to the parent and are never a
# subset of what it holds for the child (shape.rego denies them too).
parent_scopes := {s | some s in object.get(input, ["agent", "scopes"], []); is_string(s)}

child_scopes := {s | some s in object.get(spawn, "scopes", [])}

raw_delegation_depth := d if d := object.get(input, ["agent", "delegation_depth"], 0)

else := 0

delegation_depth := raw_delegation_depth if {
	is_number(raw_delegation_depth)
	raw_delegation_depth >= 0
	floor(raw_delegation_depth) == raw_delegation_depth
}

deny contains reason("invalid_delegation_depth", "agent.delegation_depth must be a non-negative integer") if {
	not delegation_depth
}

deny contains reason("scope_escalation", msg) if {
	extra := child_scopes - parent_scopes
	count(extra) > 0
	msg := sprintf("spawned agent asks for scopes its parent lacks: %s", [concat(", ", sort({describe(s) | some s in extra}))])
}

deny contains reason("delegation_depth_exceeded", msg) if {
	action_type == "spawn_agent"
	delegation_depth + 1 > cfg.delegation.max_depth
	msg := sprintf("spawning at depth %d exceeds the maximum delegation depth of %v", [delegation_depth + 1, cfg.delegation.max_depth])
}

deny contains reason("unknown_spawn_role", sprintf("spawned role \"%s\" is not defined", [spawn_role])) if {
	not cfg.roles[spawn_role]
}

deny contains reason("privilege_escalation", msg) if {
	cfg.roles[spawn_role].privileged == true
	not role_privileged
	msg := sprintf("a non-privileged agent may not spawn privileged role \"%s\"", [spawn_role])
}

# A sub-agent may do nothing its parent could not: every tool of the spawned
# role must be one the parent's role may use (a role allowing "*" only under
# a parent allowing "*").
deny contains reason("role_escalation", msg) if {
	child_tools := cfg.roles[spawn_role].tools
	role
	extra := {t | some t in child_tools; not role_allows(t)}
	count(extra) > 0
	msg := sprintf("role \"%s\" may not spawn role \"%s\", which may use tools it may not: %s", [role_name, spawn_role, concat(", ", sort(extra))])
}
