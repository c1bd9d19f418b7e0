"""Invoices: registration and the invoice → ERP posting workflow."""
