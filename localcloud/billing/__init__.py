"""What a run would be billed for on AWS: every billable operation localcloud sees, counted in
the units AWS bills (localcloud.billing.units), exposed at `/_localcloud/billing`."""
