"""The CRM / channel system API: partners, commission plans, deal registrations, eligibility."""
