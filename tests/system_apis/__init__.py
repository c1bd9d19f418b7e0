"""Tests of the system tier, mirroring `system_apis/`."""
