"""System APIs: one canonical API per backend, its vendor adapters and the resilient HTTP client."""
