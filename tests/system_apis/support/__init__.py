"""Tests of the support system API."""
