"""Deployment files (Dockerfile, compose, Kubernetes) and their offline check (check.py)."""
