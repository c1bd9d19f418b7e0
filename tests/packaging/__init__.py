"""Packaging: the container image, the helm chart and the settings they hand the app."""
