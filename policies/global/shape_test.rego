package tollgate_test

import data.tollgate

test_empty_input_is_denied_and_fails_closed if {
	d := tollgate.decision with input as {}
	denied_by(d, {"unauthenticated", "unknown_role", "invalid_action"})
	d.fail_mode == "closed"
	d.risk_tier == "critical"
	d.cost == {"tokens": 0, "api_calls": 1, "cost_usd": 0}
}

test_non_object_input_still_gets_a_decision if {
	d := tollgate.decision with input as ["not", "an", "object"]
	denied_by(d, {"unauthenticated", "unknown_role", "invalid_action"})
	d.fail_mode == "closed"
}

test_missing_action_is_denied if {
	d := tollgate.decision with input as json.remove(base_input, ["action"])
	denied_by(d, {"invalid_action"})
}

test_unknown_action_type_is_denied if {
	d := tollgate.decision with input as with_action({"type": "launch", "tool": "tickets.read"})
	denied_by(d, {"invalid_action"})
	d.reasons[0].message == "action.type must be tool_call, spawn_agent, plan or list_tools, not \"launch\""
}

test_tool_call_without_a_tool_is_denied if {
	d := tollgate.decision with input as with_action({"type": "tool_call", "args": {}})
	denied_by(d, {"invalid_action"})
}

test_tool_call_with_a_non_string_tool_is_denied if {
	d := tollgate.decision with input as with_action({"type": "tool_call", "tool": ["shell.exec"]})
	denied_by(d, {"invalid_action"})
}

test_data_classes_must_be_a_list if {
	d := tollgate.decision with input as with_action({"type": "tool_call", "tool": "tickets.read", "data_classes": "pii"})
	denied_by(d, {"invalid_action"})
}
