"""Outbound webhooks following the Standard Webhooks specification.

Endpoints are managed over the API by the clients that receive them (`router.py`,
`service.py`); the relay hands events to `WebhookFanout` (`fanout.py`), which keeps one
message per matching endpoint; the worker's delivery loop (`delivery.py`) signs and
sends them with retries, logging every attempt; `guard.py` keeps deliveries off
internal addresses.
"""
