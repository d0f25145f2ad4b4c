# Input shape: an action the policy does not know how to judge is denied,
# never allowed merely because no other rule recognised it. An unknown action
# type, a tool_call without a tool, a spawn_agent without the agent to spawn,
# a plan without a list of steps (or with a step that names no tool) and
# data classes that are not a list of strings are all `invalid_action`.
package tollgate

action := input.action if is_object(input.action)

action_type := object.get(action, "type", null)

known_action_type if action_type == "tool_call"

known_action_type if action_type == "spawn_agent"

known_action_type if action_type == "plan"

known_action_type if action_type == "list_tools"

deny contains reason("invalid_action", "input.action must be an object") if not action

deny contains reason("invalid_action", msg) if {
	action
	not known_action_type
	msg := sprintf("action.type must be tool_call, spawn_agent, plan or list_tools, not \"%s\"", [describe(action_type)])
}

deny contains reason("invalid_action", "a tool_call names its tool in action.tool (a string)") if {
	action_type == "tool_call"
	not is_string(object.get(action, "tool", null))
}

deny contains reason("invalid_action", "a spawn_agent action describes the agent in action.spawn, an object with a string role") if {
	action_type == "spawn_agent"
	not is_string(object.get(action, ["spawn", "role"], null))
}

deny contains reason("invalid_action", "action.spawn.scopes must be an array of strings") if {
	action_type == "spawn_agent"
	not string_array(object.get(action, ["spawn", "scopes"], []))
}

deny contains reason("invalid_action", "a plan lists its steps in action.steps (an array)") if {
	action_type == "plan"
	not is_array(object.get(action, "steps", null))
}

deny contains reason("invalid_action", msg) if {
	some i, step in plan_steps
	not names_a_tool(step)
	msg := sprintf("plan step %d is not an object naming its tool", [i + 1])
}

deny contains reason("invalid_action", "action.data_classes must be an array of strings") if {
	not string_array(object.get(action, "data_classes", []))
}

names_a_tool(step) if {
	is_object(step)
	is_string(step.tool)
}
