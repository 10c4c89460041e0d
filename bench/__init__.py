"""Benchmarks of dhconf against the commands people type today; see docs/benchmarks.md."""
