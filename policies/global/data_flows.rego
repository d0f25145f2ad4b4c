# Data flows: data classified sensitive (pii, confidential) never goes to an
# external tool, and PII touched by a non-privileged role needs approval and
# is redacted from what is logged.
package tollgate

data_classes := {c | some c in object.get(input, ["action", "data_classes"], [])}

sensitive_classes := data_classes & {c | some c in cfg.data_flows.sensitive_classes}

deny contains reason("sensitive_data_to_external_tool", msg) if {
	cfg.tools[tool_call].tier == "external"
	count(sensitive_classes) > 0
	msg := sprintf("%s data may not go to external tool \"%s\"", [concat(", ", sort(sensitive_classes)), tool_call])
}

approval contains reason("pii_access_requires_approval", msg) if {
	cfg.data_flows.pii_class in data_classes
	not role_privileged
	msg := sprintf("role \"%s\" is not privileged to access pii", [role_name])
}

obligations contains {"type": "redact", "fields": ["args"]} if cfg.data_flows.pii_class in data_classes
