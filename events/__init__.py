"""Canonical business events: schemas, the transactional outbox, the relay and its sinks.

Imports only the kernel (`core`). The process tier records events here in the same
transaction as the state change they report; the worker's relay publishes them.
"""
