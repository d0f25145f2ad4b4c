# The EU layer: refunds need approval from 200, and health data counts as
# sensitive (it may not leave through an external tool).
package tollgate_eu_test

import data.tollgate

refund(amount) := {
	"risk_tier": "high", "tenant": "acme",
	"agent": {"id": "a", "role": "finance"}, "session": {"id": "s"},
	"action": {"type": "tool_call", "tool": "payments.refund", "args": {"amount": amount}},
}

test_eu_refund_of_200_is_allowed if {
	tollgate.decision.decision == "allow" with input as refund(200)
}

test_eu_refund_of_300_requires_approval if {
	d := tollgate.decision with input as refund(300)
	d.decision == "require_approval"
	d.reasons[0].rule == "refund_requires_approval"
}

test_eu_health_data_may_not_go_external if {
	d := tollgate.decision with input as {
		"risk_tier": "medium", "tenant": "acme",
		"agent": {"id": "a", "role": "support"}, "session": {"id": "s"},
		"action": {"type": "tool_call", "tool": "email.send", "data_classes": ["health"]},
	}
	d.decision == "deny"
}
