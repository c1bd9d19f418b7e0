"""Tests of the billing system API: mapping, the Stripe adapter and its sandbox."""
