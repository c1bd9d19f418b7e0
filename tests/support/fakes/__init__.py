"""In-memory fakes of the system ports, for fast unit tests of the process tier."""
