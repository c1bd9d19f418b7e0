"""Experience APIs: what partner portals and finance operations consume."""
