"""Benchmarks of conversation-store: `make bench` runs them and renders docs/benchmarks.md."""
