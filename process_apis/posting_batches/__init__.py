"""Posting batches: many invoices posted to the ERP as bulk work (`POST /v1/posting-batches`)."""
