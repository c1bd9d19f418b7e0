"""Entitlements: what customers may use, granted by subscriptions, kept in the support desk."""
