"""The partner settlement run, its ERP journal posting and `/v1/settlements`."""
