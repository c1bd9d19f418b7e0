"""Reconciliation: billing, the gateway and the ERP compared document by document, and
the legal entity's catalog against its ERP items and billing prices.

`sources` reads each side page by page, `staging` keeps what was read in the
database and streams it back grouped by document key, `compare` decides what each
key's documents disagree on and why, `catalog` (with `catalog_compare`) does the same
for products and prices, `service` runs it and keeps the report, `reports` reads a
kept report back, `schedule` runs it in the worker.
"""
