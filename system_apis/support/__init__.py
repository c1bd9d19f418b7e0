"""The support system API: entitlements, cases routed by entitlement, service credits."""
