"""Tests of the ERP system API."""
