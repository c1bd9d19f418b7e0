"""Billing adapters: one module per vendor wire format, each implementing `BillingPort`."""
