# Money: refunds up to the approval threshold are allowed, above it they need
# a human, and above the hard cap they are denied outright; an amount that is
# not a non-negative number is denied. Thresholds are in the currencies
# `refunds.currencies` lists (an amount without a currency is in those
# units); a refund in any other currency needs a human, whatever its amount,
# and a currency that is not a string is denied. Applies to a tool call and
# to every refund step of a plan. Refund arguments are kept in the audit log.
package tollgate

refunds[n] := {"at": use.at, "amount": arg(use.args, "amount"), "currency": arg(use.args, "currency")} if {
	some n, use in uses_of_tool["payments.refund"]
}

deny contains reason("invalid_refund_currency", sprintf("%srefund currency must be a string", [refund.at])) if {
	some refund in refunds
	not valid_currency(refund.currency)
}

approval contains reason("refund_currency_not_configured", msg) if {
	some refund in refunds
	unlisted_currency(refund.currency, cfg.refunds.currencies)
	msg := sprintf("%srefund in %s, a currency the limits are not set in (%s)", [refund.at, refund.currency, concat(", ", cfg.refunds.currencies)])
}

# No currency (the limits' own units) or a currency code.
valid_currency(currency) if currency == null

valid_currency(currency) if is_string(currency)

unlisted_currency(currency, listed) if {
	is_string(currency)
	not currency in listed
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

# A plan's refunds are judged together too: split into steps, they must not pass the threshold or the
# cap that one refund of their sum would not (amounts in an unlisted currency need approval anyway).
refund_total := sum([refund.amount | some refund in refunds; valid_amount(refund.amount); not unlisted_currency(refund.currency, cfg.refunds.currencies)])

approval contains reason("refunds_together_require_approval", msg) if {
	count(refunds) > 1
	refund_total > cfg.refunds.approval_threshold
	refund_total <= cfg.refunds.hard_cap
	msg := sprintf("the plan's refunds come to %v, above the approval threshold of %v", [refund_total, cfg.refunds.approval_threshold])
}

deny contains reason("refunds_together_over_hard_cap", msg) if {
	count(refunds) > 1
	refund_total > cfg.refunds.hard_cap
	msg := sprintf("the plan's refunds come to %v, over the hard cap of %v", [refund_total, cfg.refunds.hard_cap])
}

obligations contains {"type": "log_args", "fields": ["amount", "currency"]} if count(refunds) > 0
