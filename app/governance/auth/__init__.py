"""Authentication: OAuth2 client credentials, signed JWTs, API clients and signing keys."""
