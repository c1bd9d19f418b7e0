"""The billing system API: the canonical port, the Stripe adapter and its wire mapping."""
