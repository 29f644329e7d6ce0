"""Callbacks: the durable queue (Redis Stream, local spool) and its dispatcher."""
