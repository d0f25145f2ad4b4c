# Money: refunds up to the approval threshold are allowed, above it they need
# a human, and above the hard cap they are denied outright.
package tollgate

refund_amount := object.get(input.action, ["args", "amount"], null) if tool_call == "payments.refund"

deny contains reason("invalid_refund_amount", "refund amount must be a non-negative number") if {
	tool_call == "payments.refund"
	not valid_amount(refund_amount)
}

valid_amount(amount) if {
	is_number(amount)
	amount >= 0
}

approval contains reason("refund_requires_approval", msg) if {
	valid_amount(refund_amount)
	refund_amount > cfg.refunds.approval_threshold
	refund_amount <= cfg.refunds.hard_cap
	msg := sprintf("refund of %v is above the approval threshold of %v", [refund_amount, cfg.refunds.approval_threshold])
}

deny contains reason("refund_over_hard_cap", msg) if {
	valid_amount(refund_amount)
	refund_amount > cfg.refunds.hard_cap
	msg := sprintf("refund of %v exceeds the hard cap of %v", [refund_amount, cfg.refunds.hard_cap])
}

obligations contains {"type": "log_args", "fields": ["amount", "currency"]} if tool_call == "payments.refund"
