"""Tests of the CRM / channel system API."""
