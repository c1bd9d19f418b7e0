"""Adapters from `SupportPort` to each support desk's wire format."""
