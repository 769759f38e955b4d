"""Side-by-side ratio benchmarks: ``python -m benchmarks`` (``--smoke`` for a tiny run)."""
