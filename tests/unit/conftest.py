"""Fixtures shared by more than one unit-test module, defined in tests/support/.

`exported`: the series a freshly built app exports, which both the monitoring rules'
and the dashboard's checks read (tests/support/monitoring_assets.py).
"""

from tests.support.monitoring_assets import exported

__all__ = ["exported"]
