"""The CodeFusion paper's own figures for CodeFusion, printed by `cf eval` beside ours.

Source: Singh et al., "CodeFusion: A Pre-trained Diffusion Model for Code Generation"
(EMNLP 2023); ../shared/paper/codefusion-paper.txt (beside the checkout). Only CodeFusion's rows are carried.
Percentages are on 0..100, diversity figures on 0..1, as printed in the paper.

Which of our metrics each figure sits beside:
- Table 1 (the language's main metric): Python CodeBERTScore F1 -> ``codebertscore``; Bash
  template match -> ``template_match``; CF execution match -> ``execution_combined``. The paper
  executes every CF test item, but the published test split carries a real table for only
  some items, so our all-items figure executes those and uses exact match on the rest.
- Table 6 (appendix C.1): exact match -> ``exact_match``.
- Table 3: % of top-1 generations that are syntactically valid.
- Table 2: diversity of the top-5 generations, averaged over the three languages (the paper
  gives no per-language split), so the same figures sit beside every language.
"""

from __future__ import annotations

SOURCE = "Singh et al., CodeFusion (EMNLP 2023)"


def _top_k(top1: float, top3: float, top5: float, table: str) -> dict:
    return {"top1": top1, "top3": top3, "top5": top5, "table": table}


METRICS = {
    "python": {
        "codebertscore": _top_k(80.7, 86.3, 90.3, "Table 1"),
        "exact_match": _top_k(5.1, 7.2, 9.0, "Table 6"),
    },
    "bash": {
        "template_match": _top_k(66.7, 70.2, 72.0, "Table 1"),
        "exact_match": _top_k(13.5, 15.3, 16.4, "Table 6"),
    },
    "cf": {
        "execution_combined": _top_k(72.8, 76.7, 78.5, "Table 1"),
        "exact_match": _top_k(63.4, 67.6, 69.1, "Table 6"),
    },
}

VALIDITY_TOP1 = {"python": 67.6, "bash": 73.4, "cf": 94.5}  # Table 3

DIVERSITY = {  # Table 2, CodeFusion's row (averaged over Python, Bash and CF)
    "distinct_ngrams": {"1": 0.53, "2": 0.65, "3": 0.74, "4": 0.81},
    "embedding_similarity": {"min": 0.83, "max": 0.97, "mean": 0.91},
    "edit_distance": {"min": 0.21, "max": 0.83, "mean": 0.57},
    "table": "Table 2 (averaged over the three languages)",
}


def paper_figures(lang: str) -> dict:
    """The paper's CodeFusion figures for one language, JSON-ready."""
    return {
        "source": SOURCE,
        "metrics": METRICS[lang],
        "validity": {"top1": VALIDITY_TOP1[lang], "table": "Table 3"},
        "diversity": DIVERSITY,
    }
