"""The spike test (`python -m loadtests.spike`, `make loadtest`): the customer mix, the
call centers down at a known time while traffic rises to 1.5x, the SLO gate at the end.
loadtests/README.md explains the phases, the rates, the modules and the output."""
