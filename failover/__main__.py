"""`python -m failover`: the CLI of switchboard/__main__.py under the name scripts, the
image, the worker processes and the tests run (docs/architecture.md "Contract").

The one import in failover/ that goes up the layers, to the composition root: declared
as the only `ignore_imports` of the layers contract (pyproject.toml, import-linter).
"""

from __future__ import annotations

import sys

from switchboard.__main__ import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
