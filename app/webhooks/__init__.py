"""Webhook receivers: backends telling the gateway what happened on their side."""
