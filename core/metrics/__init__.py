"""Quality metrics: pure functions over strings, one module per family."""

from core.metrics.bash import (
    Redirection,
    SimpleCommand,
    bash_is_valid,
    bash_template,
    parse_simple_commands,
    template_accuracy,
    template_match,
)
from core.metrics.cfrules import (
    CFRuleSyntaxError,
    cf_data_is_real,
    cf_execution_applies,
    cf_is_valid,
    cf_label_rows,
    execution_match,
    first_rule,
    parse_rule,
    select_rows,
)
from core.metrics.diversity import distinct_ngrams, levenshtein, normalized_edit_distance, pairwise_edit_distance
from core.metrics.exact import exact_match, normalize_ws, top_k_hits
from core.metrics.python import (
    MetricUnavailable,
    codebertscore_f1,
    conala_tokenize,
    corpus_bleu,
    greedy_match_scores,
    python_is_valid,
    sentence_bleu,
)



def syntax_valid(code: str, lang: str) -> bool:
    """Parses as the target language (paper Table 3): bashlex, ``ast``, the CF rule parser."""
    check = {"bash": bash_is_valid, "python": python_is_valid, "cf": cf_is_valid}.get(lang)
    return check(code) if check else True


__all__ = [
    "syntax_valid",
    "exact_match", "normalize_ws", "top_k_hits",
    "Redirection", "SimpleCommand", "bash_is_valid", "bash_template", "parse_simple_commands",
    "template_accuracy", "template_match",
    "MetricUnavailable", "codebertscore_f1", "conala_tokenize", "corpus_bleu", "greedy_match_scores",
    "python_is_valid", "sentence_bleu",
    "distinct_ngrams", "levenshtein", "normalized_edit_distance", "pairwise_edit_distance",
    "CFRuleSyntaxError", "cf_data_is_real", "cf_execution_applies", "cf_is_valid", "cf_label_rows",
    "execution_match", "first_rule", "parse_rule", "select_rows",
]
