"""System APIs: one canonical API per backend, vendor adapters and the built-in sandboxes."""
