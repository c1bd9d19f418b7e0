"""Subscriptions: orders, mid-cycle amendments and cancellations across billing, ERP and support."""
