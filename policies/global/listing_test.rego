package tollgate_test

import data.tollgate

listing(role, tools, classes) := object.union(as_role(role, {"type": "list_tools", "tools": tools}), {"session": {"id": "s-1", "data_classes": classes}})

test_listing_shows_what_the_role_may_call if {
	d := tollgate.decision with input as listing("support", ["tickets.read", "shell.exec", "email.send", "no.such.tool"], [])
	d.decision == "allow"
	d.tools == {"tickets.read": "allow", "shell.exec": "deny", "email.send": "allow", "no.such.tool": "deny"}
}

test_listing_marks_external_tools_after_pii_for_approval if {
	d := tollgate.decision with input as listing("support", ["tickets.read", "email.send", "slack.post"], ["pii"])
	d.tools == {"tickets.read": "allow", "email.send": "require_approval", "slack.post": "require_approval"}
}

test_listing_hides_external_tools_after_pii_when_taint_denies if {
	d := tollgate.decision with input as listing("support", ["tickets.read", "email.send"], ["pii"])
		with data.tollgate.params.data_flows.session_taint.external_tools as "deny"
	d.tools == {"tickets.read": "allow", "email.send": "deny"}
}

test_listing_hides_tools_above_the_agents_certified_tier if {
	low_only := object.union(listing("engineer", ["shell.exec", "files.read"], []), {"identity": {"registration": {"max_risk_tier": "medium"}}})
	d := tollgate.decision with input as low_only
	d.tools == {"shell.exec": "deny", "files.read": "allow"}
}

test_listing_without_a_list_of_tools_is_invalid if {
	d := tollgate.decision with input as as_role("support", {"type": "list_tools", "tools": "all"})
	d.decision == "deny"
	"invalid_action" in rules(d)
}

test_a_decision_that_is_not_a_listing_carries_no_tools if {
	d := tollgate.decision with input as tool_input("support", "tickets.read", {"id": "T-1"})
	not d.tools
}

test_listing_denies_tools_a_lapsed_certification_no_longer_covers if {
	lapsed := object.union(verified_identity, {"registration": {"certified_until": "2001-01-01T00:00:00Z"}})
	d := tollgate.decision with input as object.union(listing("finance", ["payments.refund", "tickets.read"], []), {"identity": lapsed})
	d.tools == {"payments.refund": "deny", "tickets.read": "allow"}
}
