"""`/ops/v1`: the finance-operations experience API."""
