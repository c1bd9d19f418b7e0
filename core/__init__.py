"""The kernel: settings, database, canonical model, money, ids and errors.

Nothing here imports from the tiers (`app.governance`, `app.experience`,
`system_apis`, `process_apis`); everything may import from here.
"""
