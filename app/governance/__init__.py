"""The edge: everything a request crosses before it reaches a tier, enforced once."""
