"""Tests of the project checks in `lint/`."""
