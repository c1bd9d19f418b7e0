"""Workflow runs as callers see them: the URL a 202 answer points at."""
