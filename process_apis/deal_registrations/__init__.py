"""A partner's deal registrations, read through the CRM port."""
