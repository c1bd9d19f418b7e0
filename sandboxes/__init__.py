"""Built-in backends that speak each vendor's wire format, for development and tests."""
