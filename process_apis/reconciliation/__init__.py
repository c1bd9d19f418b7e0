"""Reconciliation: billing, the gateway and the ERP compared document by document.

`sources` reads each side page by page, `staging` keeps what was read in the
database and streams it back grouped by document key, `compare` decides what each
key's documents disagree on and why, `service` runs it and keeps the report,
`schedule` runs it in the worker.
"""
