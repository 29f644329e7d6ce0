"""The shared kernel: primitives every package uses and that import nothing of ours.

The clock (``clock``), task cancellation (``tasks``), request ids and log records
(``logs``), problem documents (``problem``), forwarded-header trust (``headers``), reading
a request body whole under a cap and a deadline (``body``), the
outlier breaker (``breaker``), the overload stages and their monitor (``overload``,
``overload_monitor``) and per-client rate limits (``limits``). The layering rule,
checked by import-linter in ``make lint``: see docs/architecture.md, "Layers".
"""
