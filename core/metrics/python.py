"""Python metrics, CoNaLa style: BLEU-4, syntactic validity, CodeBERTScore.

Sources:
- Tokeniser: ``tokenize_for_bleu_eval`` of the CoNaLa baseline (Yin et al., "Learning to
  Mine Aligned Code and Natural Language Pairs from Stack Overflow", MSR 2018), itself from
  Ling et al., "Latent Predictor Networks for Code Generation" (ACL 2016). It splits at every
  non-word character and at camelCase boundaries and maps both quote characters to '`'.
- BLEU-4: Papineni et al., "BLEU: a Method for Automatic Evaluation of Machine Translation"
  (ACL 2002): clipped n-gram precisions for n = 1..4, geometric mean, brevity penalty against
  the closest reference length. Corpus BLEU sums counts over the corpus before dividing, as
  CoNaLa's evaluation script does (with one reference per example, closest == shortest).
  Sentence BLEU adds one to the n-gram counts for n >= 2 (Lin & Och, COLING 2004; method 2
  of Chen & Cherry, WMT 2014), so a perfect candidate scores 1 and one sharing no token
  scores 0.
- CodeBERTScore: Zhou et al., "CodeBERTScore: Evaluating Code Generation with Pretrained
  Models of Code" (EMNLP 2023), after BERTScore (Zhang et al., ICLR 2020): cosine
  similarity of contextual token embeddings, each token greedily matched to its most
  similar counterpart, F1 of the mean precision and recall.
"""

from __future__ import annotations

import ast
import math
import re
import textwrap
from collections import Counter
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:  # torch and transformers load only when CodeBERTScore runs
    import torch

BLEU_ORDER = 4
CODEBERTSCORE_MODEL = "neulab/codebert-python"
CODEBERTSCORE_LAYER = 10  # the hidden layer CodeBERTScore uses for its CodeBERT models


class MetricUnavailable(RuntimeError):
    """A metric's model or dependency is missing; report the metric as skipped."""


# ---------------------------------------------------------------------------
# Tokeniser and BLEU
# ---------------------------------------------------------------------------

_NON_WORD_CHAR = re.compile(r"([^A-Za-z0-9_])")
_CAMEL_CASE_BOUNDARY = re.compile(r"([a-z])([A-Z])")


def conala_tokenize(code: str) -> list[str]:
    """CoNaLa's tokenize_for_bleu_eval: "x.getName('a')" -> x . get Name ( ` a ` )."""
    code = _NON_WORD_CHAR.sub(r" \1 ", code)
    code = _CAMEL_CASE_BOUNDARY.sub(r"\1 \2", code)
    return code.replace('"', "`").replace("'", "`").split()


def _ngram_counts(tokens: Sequence[str], n: int) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def _clipped_matches(candidate: Sequence[str], references: Sequence[Sequence[str]], n: int) -> tuple[int, int]:
    """(matched n-grams, candidate n-grams); a match counts at most as often as in one reference."""
    counts = _ngram_counts(candidate, n)
    most_in_a_reference: Counter = Counter()
    for reference in references:
        most_in_a_reference |= _ngram_counts(reference, n)  # | keeps the maximum count
    matched = sum(min(count, most_in_a_reference[gram]) for gram, count in counts.items())
    return matched, sum(counts.values())


def _closest_reference_length(candidate_length: int, references: Sequence[Sequence[str]]) -> int:
    """Papineni's best match length; ties go to the shorter reference."""
    return min((len(r) for r in references), key=lambda length: (abs(length - candidate_length), length))


def _brevity_penalty(candidate_length: int, reference_length: int) -> float:
    if candidate_length == 0:
        return 0.0
    return 1.0 if candidate_length > reference_length else math.exp(1 - reference_length / candidate_length)


def _geometric_mean(precisions: Sequence[float]) -> float:
    if min(precisions) <= 0:
        return 0.0
    return math.exp(sum(math.log(p) for p in precisions) / len(precisions))


def _tokenized_references(references: str | Sequence[str]) -> list[list[str]]:
    return [conala_tokenize(r) for r in ([references] if isinstance(references, str) else references)]


def sentence_bleu(candidate: str, references: str | Sequence[str], max_n: int = BLEU_ORDER) -> float:
    """Smoothed sentence BLEU-4 of one candidate (0..1)."""
    tokens, refs = conala_tokenize(candidate), _tokenized_references(references)
    if not tokens or not refs:
        return 0.0
    precisions = []
    for n in range(1, max_n + 1):
        matched, total = _clipped_matches(tokens, refs, n)
        precisions.append(matched / total if n == 1 else (matched + 1) / (total + 1))
    return _geometric_mean(precisions) * _brevity_penalty(len(tokens), _closest_reference_length(len(tokens), refs))


def corpus_bleu(candidates: Sequence[str], references: Sequence[str | Sequence[str]], max_n: int = BLEU_ORDER) -> float:
    """Corpus BLEU-4 (0..1): n-gram counts and lengths summed over all pairs, no smoothing.

    ``references[i]`` is the reference (or list of references) for ``candidates[i]``."""
    matched, total = [0] * max_n, [0] * max_n
    candidate_length = reference_length = 0
    for candidate, reference in zip(candidates, references, strict=True):
        tokens, refs = conala_tokenize(candidate), _tokenized_references(reference)
        if not refs:
            continue
        for n in range(1, max_n + 1):
            m, t = _clipped_matches(tokens, refs, n)
            matched[n - 1] += m
            total[n - 1] += t
        candidate_length += len(tokens)
        reference_length += _closest_reference_length(len(tokens), refs)
    precisions = [m / t if t else 0.0 for m, t in zip(matched, total)]
    return _geometric_mean(precisions) * _brevity_penalty(candidate_length, reference_length)


# ---------------------------------------------------------------------------
# Validity
# ---------------------------------------------------------------------------


def python_is_valid(code: str) -> bool:
    """The snippet parses as Python (statements, or an expression, which is a statement).

    Only syntax is checked: 'return x' outside a function is fine for a snippet."""
    source = textwrap.dedent(code).strip()
    if not source:
        return False
    try:
        ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return False  # ValueError: null bytes; RecursionError/MemoryError: absurd nesting
    return True


# ---------------------------------------------------------------------------
# CodeBERTScore
# ---------------------------------------------------------------------------


def greedy_match_scores(candidate: "torch.Tensor", reference: "torch.Tensor") -> tuple[float, float, float]:
    """(precision, recall, F1) of greedy cosine matching between two [tokens, dim] embeddings."""
    import torch.nn.functional as F

    if candidate.shape[0] == 0 or reference.shape[0] == 0:
        return 0.0, 0.0, 0.0
    similarity = F.normalize(candidate.float(), dim=-1) @ F.normalize(reference.float(), dim=-1).T
    precision = similarity.max(dim=1).values.mean().item()  # each candidate token's best match
    recall = similarity.max(dim=0).values.mean().item()  # each reference token's best match
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f1


def _load_encoder(model: str):
    try:
        from transformers import AutoModel, AutoTokenizer
    except ImportError as error:
        raise MetricUnavailable(f"model not available: transformers cannot be imported ({error})") from error
    try:
        tokenizer = AutoTokenizer.from_pretrained(model, local_files_only=True)
        encoder = AutoModel.from_pretrained(model, local_files_only=True)
    except (OSError, ValueError, KeyError, ImportError) as error:  # missing files, unknown architecture
        raise MetricUnavailable(f"model not available: {model} ({error})") from error
    return tokenizer, encoder.eval()


def _token_embeddings(text: str, tokenizer, encoder, layer: int) -> "torch.Tensor":
    """Contextual embeddings of the text's tokens at one hidden layer, special tokens dropped."""
    import torch

    encoded = tokenizer(text.strip(), return_tensors="pt", truncation=True, return_special_tokens_mask=True)
    special = encoded.pop("special_tokens_mask")[0].bool()
    with torch.no_grad():
        hidden_states = encoder(**encoded, output_hidden_states=True).hidden_states
    if not 0 < layer < len(hidden_states):
        raise ValueError(f"layer {layer} is out of range: the model has {len(hidden_states) - 1} layers")
    return hidden_states[layer][0][~special]


def codebertscore_f1(candidates: Sequence[str], references: Sequence[str], model: str = CODEBERTSCORE_MODEL,
                     layer: int = CODEBERTSCORE_LAYER) -> list[float]:
    """CodeBERTScore F1 of each candidate against its reference (``references[i]`` for
    ``candidates[i]``). The model is read from the local cache or a directory only.

    Raises MetricUnavailable when the model cannot be loaded. Inputs longer than the
    model's window are truncated (CodeBERTScore slides a window instead)."""
    tokenizer, encoder = _load_encoder(model)
    cache: dict[str, "torch.Tensor"] = {}

    def embed(text: str) -> "torch.Tensor":
        if text not in cache:
            cache[text] = _token_embeddings(text, tokenizer, encoder, layer)
        return cache[text]

    return [greedy_match_scores(embed(c), embed(r))[2] for c, r in zip(candidates, references, strict=True)]
