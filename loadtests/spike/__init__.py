"""The spike test: a realistic customer mix, the call centers going down at a known
time while traffic rises to 1.5x baseline, and an SLO gate at the end.

Run it with `python -m loadtests.spike` (`make loadtest`, `make loadtest-ci`);
loadtests/README.md explains the phases, the rates and the output.

Orchestrator side (no locust, no gevent): `__main__` (CLI), `stack` (the processes),
`plot` (the PNG). Locust side (imported by loadtests/locustfile.py): `customers` (the
`FastHttpUser`), `shape` (the `LoadTestShape` and the outage switch), `listeners`
(recording and the gate's `quitting` listener), `state` (what they share). Pure, used
by both and unit-tested: `profile` (phases, expectations), `checks` (right answers),
`slo` (thresholds and the gate), `appmetrics` (/metrics), `callbacks` (lost or doubled),
`timeline` (per-second buckets), `runconfig`, `report`.
"""
