# Purchase orders: each one above the approval threshold needs a human, as
# does one in a currency the threshold is not set in; one whose amount is
# not a non-negative number, or whose currency is not a string, is denied. What no single order
# shows (two hundred small ones in an hour) is the agent-wide limit's job:
# agent_limits in data.json, enforced by the agent's Durable Object.
package tollgate

purchase_orders[n] := {"at": use.at, "amount": arg(use.args, "amount"), "currency": arg(use.args, "currency")} if {
	some n, use in uses_of_tool["purchasing.create_po"]
}

# As for refunds (money.rego): the threshold is in the listed currencies.
deny contains reason("invalid_po_currency", sprintf("%spurchase order currency must be a string", [po.at])) if {
	some po in purchase_orders
	not valid_currency(po.currency)
}

approval contains reason("purchase_order_currency_not_configured", msg) if {
	some po in purchase_orders
	unlisted_currency(po.currency, cfg.purchasing.currencies)
	msg := sprintf("%spurchase order in %s, a currency the limits are not set in (%s)", [po.at, po.currency, concat(", ", cfg.purchasing.currencies)])
}

deny contains reason("invalid_po_amount", sprintf("%spurchase order amount must be a non-negative number", [po.at])) if {
	some po in purchase_orders
	not valid_amount(po.amount)
}

approval contains reason("purchase_order_requires_approval", msg) if {
	some po in purchase_orders
	valid_amount(po.amount)
	po.amount > cfg.purchasing.approval_threshold
	msg := sprintf("%spurchase order of %v is above the approval threshold of %v", [po.at, po.amount, cfg.purchasing.approval_threshold])
}
