"""Contract tests: what adapters send and sandboxes answer, against vendor documents."""
