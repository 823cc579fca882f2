"""Quality metrics: pure functions over strings, one module per family."""

from core.metrics.exact import exact_match, normalize_ws, top_k_hits

__all__ = ["exact_match", "normalize_ws", "top_k_hits"]
