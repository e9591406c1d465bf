"""Temporal workflows: one module per workflow. No I/O here; activities do that."""
