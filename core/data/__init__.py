from core.data.datasets import (Pair, load_jsonl, load_pairs, load_records, load_snippets, pretrain_snippets,
                                tag_prompt)
from core.data.fetch import BENCHMARKS, SNIPPETS, data_dir, fetch

__all__ = ["Pair", "load_jsonl", "load_pairs", "load_records", "load_snippets", "pretrain_snippets",
           "tag_prompt", "BENCHMARKS", "SNIPPETS", "data_dir", "fetch"]
