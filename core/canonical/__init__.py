"""The canonical model: one pydantic schema and one status machine per domain object.

Schemas come in the families `X` (what the API returns), `XCreate` and `XUpdate`
(what callers send, unknown fields forbidden).
"""
