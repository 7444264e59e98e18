"""AWS WAF (wafv2) as localcloud runs it: the template's web ACLs, evaluated in front of the
API stages they are associated with (rate-based rules per client IP)."""
