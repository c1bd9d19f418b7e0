"""`/console`: the finance operations console, server-rendered for people.

Pages call the same services as `/ops/v1` in process; people sign in as local
operators or through the organization's identity provider (OpenID Connect).
"""
