"""Customers: the canonical record and its cross-references to each backend."""
