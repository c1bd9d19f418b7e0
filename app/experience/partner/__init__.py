"""`/partner/v1`: the partner portal experience API (partner-bound tokens only)."""
