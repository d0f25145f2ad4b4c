# Money: refunds up to the approval threshold are allowed, above it they need
# a human, and above the hard cap they are denied outright; an amount that is
# not a non-negative number is denied. Applies to a tool call and to every
# refund step of a plan. Refund arguments are kept in the audit log.
package tollgate

refunds[n] := {"at": use.at, "amount": arg(use.args, "amount")} if {
	some n, use in uses_of_tool["payments.refund"]
}

deny contains reason("invalid_refund_amount", sprintf("%srefund amount must be a non-negative number", [refund.at])) if {
	some refund in refunds
	not valid_amount(refund.amount)
}

valid_amount(amount) if {
	is_number(amount)
	amount >= 0
}

approval contains reason("refund_requires_approval", msg) if {
	some refund in refunds
	valid_amount(refund.amount)
	refund.amount > cfg.refunds.approval_threshold
	refund.amount <= cfg.refunds.hard_cap
	msg := sprintf("%srefund of %v is above the approval threshold of %v", [refund.at, refund.amount, cfg.refunds.approval_threshold])
}

deny contains reason("refund_over_hard_cap", msg) if {
	some refund in refunds
	valid_amount(refund.amount)
	refund.amount > cfg.refunds.hard_cap
	msg := sprintf("%srefund of %v exceeds the hard cap of %v", [refund.at, refund.amount, cfg.refunds.hard_cap])
}

obligations contains {"type": "log_args", "fields": ["amount", "currency"]} if count(refunds) > 0
