# The acme tenant: refunds over 1000 are denied, and support agents may not
# send email.
package tollgate_acme_test

import data.tollgate

test_acme_refund_over_1000_is_denied if {
	d := tollgate.decision with input as {
		"risk_tier": "high", "tenant": "acme",
		"agent": {"id": "a", "role": "finance"}, "session": {"id": "s"},
		"action": {"type": "tool_call", "tool": "payments.refund", "args": {"amount": 1500}},
	}
	d.decision == "deny"
	d.reasons[0].rule == "refund_over_hard_cap"
}

test_acme_support_may_not_send_email if {
	d := tollgate.decision with input as {
		"risk_tier": "low", "tenant": "acme",
		"agent": {"id": "a", "role": "support"}, "session": {"id": "s"},
		"action": {"type": "tool_call", "tool": "email.send"},
	}
	d.reasons[0].rule == "tool_not_allowed_for_role"
}
