"""Performance benchmarks of the in-request trigger; see README.rst in this folder."""
