"""Ledgergate: the edge and composition root of the integration gateway."""
