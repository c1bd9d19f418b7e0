"""Dunning and suspension: billing's payment failure opens a case; once the legal
entity's grace period has passed unpaid the account is suspended in the support desk,
the entitlements, the ERP and the CRM; a payment reactivates each of them."""
