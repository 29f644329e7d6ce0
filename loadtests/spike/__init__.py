"""The spike test (`python -m loadtests.spike`, `make loadtest`): loadtests/README.md."""
