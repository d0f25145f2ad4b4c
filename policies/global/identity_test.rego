package tollgate_test

import data.tollgate

with_registration(field, value) := json.patch(base_input, [{"op": "replace", "path": sprintf("/identity/registration/%s", [field]), "value": value}])

lapsed(input_doc) := json.patch(input_doc, [{"op": "replace", "path": "/identity/registration/certified_until", "value": "2020-01-01T00:00:00Z"}])

test_a_decision_without_identity_is_denied if {
	d := tollgate.decision with input as json.remove(base_input, ["identity"])
	denied_by(d, {"unauthenticated"})
}

test_an_identity_without_registration_is_denied if {
	d := tollgate.decision with input as json.remove(base_input, ["identity/registration"])
	denied_by(d, {"invalid_identity"})
}

test_a_lapsed_certification_denies_high_tier_actions if {
	d := tollgate.decision with input as lapsed(object.union(tool_input("finance", "payments.refund", {"amount": 10}), {"risk_tier": "high"}))
	denied_by(d, {"agent_not_certified"})
	d.fail_mode == "closed"
}

test_a_lapsed_certification_denies_critical_actions if {
	d := tollgate.decision with input as lapsed(tool_input("engineer", "shell.exec", {"command": "ls"}))
	denied_by(d, {"agent_not_certified"})
}

test_a_lapsed_certification_still_allows_low_tier_actions if {
	d := tollgate.decision with input as lapsed(base_input)
	d.risk_tier == "medium"
	allowed(d)
}

test_an_unparseable_certification_counts_as_lapsed if {
	d := tollgate.decision with input as with_registration("certified_until", "next year")
		with input.risk_tier as "high"
	denied_by(d, {"agent_not_certified"})
}

test_certification_may_be_required_from_a_lower_tier if {
	d := tollgate.decision with input as lapsed(base_input)
		with data.tollgate.params.certification.required_from as "medium"
	denied_by(d, {"agent_not_certified"})
}

test_an_action_above_the_registered_maximum_is_denied if {
	d := tollgate.decision with input as with_registration("max_risk_tier", "medium")
		with input.risk_tier as "high"
	denied_by(d, {"agent_tier_exceeded"})
}

test_an_action_at_the_registered_maximum_is_allowed if {
	d := tollgate.decision with input as with_registration("max_risk_tier", "medium")
	allowed(d)
}

test_a_malformed_maximum_tier_counts_as_low if {
	d := tollgate.decision with input as with_registration("max_risk_tier", "unlimited")
	denied_by(d, {"agent_tier_exceeded"})
}

# The input with its identity replaced (object.union would merge the two).
with_identity(inp, id) := object.union(object.remove(inp, ["identity"]), {"identity": id})

test_a_missing_agent_name_or_certification_date_never_lifts_the_certification_check if {
	refund := object.union(tool_input("finance", "payments.refund", {"amount": 10, "currency": "EUR"}), {"risk_tier": "high"})
	lapsed := object.union(verified_identity, {"registration": {"certified_until": "2001-01-01T00:00:00Z"}})
	d := tollgate.decision with input as with_identity(refund, object.remove(lapsed, ["agent"]))
	"agent_not_certified" in rules(d)
	no_date := object.union(object.remove(verified_identity, ["registration"]), {"registration": object.remove(verified_identity.registration, ["certified_until"])})
	e := tollgate.decision with input as with_identity(refund, no_date)
	"agent_not_certified" in rules(e)
	low := object.union(verified_identity, {"registration": {"max_risk_tier": "low"}})
	shell_input := object.union(tool_input("engineer", "shell.exec", {"command": "ls"}), {"risk_tier": "critical"})
	f := tollgate.decision with input as with_identity(shell_input, object.remove(low, ["agent"]))
	"agent_tier_exceeded" in rules(f)
}
