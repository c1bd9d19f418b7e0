"""Project checks that `make lint` runs beside ruff and mypy."""
