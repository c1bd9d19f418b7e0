"""Adapters from `CrmPort` to each CRM's wire format."""
