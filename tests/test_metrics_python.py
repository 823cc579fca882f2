"""Python metrics (CoNaLa BLEU-4, validity, CodeBERTScore) and top-k diversity, on
hand-worked examples."""

from __future__ import annotations

import json
import math

import pytest

from core.metrics import (
    MetricUnavailable,
    codebertscore_f1,
    conala_tokenize,
    corpus_bleu,
    distinct_ngrams,
    greedy_match_scores,
    levenshtein,
    normalized_edit_distance,
    pairwise_edit_distance,
    python_is_valid,
    sentence_bleu,
)

# --- CoNaLa tokeniser and BLEU ---------------------------------------------------------


def test_conala_tokenizer_splits_punctuation_camel_case_and_quotes():
    assert conala_tokenize("x = obj.getName('a')") == ["x", "=", "obj", ".", "get", "Name", "(", "`", "a", "`", ")"]
    assert conala_tokenize('d["k"] >= 10') == ["d", "[", "`", "k", "`", "]", ">", "=", "10"]


def test_sentence_bleu_hand_computed():
    # candidate: sorted ( x )   reference: sorted ( x , reverse = True )
    # p1 = 4/4; smoothed p2 = (2+1)/(3+1), p3 = (1+1)/(2+1), p4 = (0+1)/(1+1); BP = exp(1 - 8/4)
    expected = (1 * 3 / 4 * 2 / 3 * 1 / 2) ** 0.25 * math.exp(-1)
    assert sentence_bleu("sorted(x)", "sorted(x, reverse=True)") == pytest.approx(expected)


def test_sentence_bleu_clips_repeats_and_uses_the_closest_reference_length():
    # 'x' four times: at most twice in one reference (the second) -> p1 = 2/4; one (x, x) bigram
    # -> (1+1)/(3+1); no trigram or 4-gram -> 1/3, 1/2. Lengths 2 and 5: 5 is closest to 4.
    expected = (2 / 4 * 2 / 4 * 1 / 3 * 1 / 2) ** 0.25 * math.exp(1 - 5 / 4)
    assert sentence_bleu("x x x x", ["x y", "x x q r s"]) == pytest.approx(expected)


def test_corpus_bleu_sums_counts_before_dividing():
    # pair 1 (above): matches 4/4, 2/3, 1/2, 0/1; lengths 4 vs 8
    # pair 2: len ( items ) + 1  vs  len ( items ) - 1: 5/6, 3/5, 2/4, 1/3; lengths 6 vs 6
    expected = (9 / 10 * 5 / 8 * 3 / 6 * 1 / 4) ** 0.25 * math.exp(1 - 14 / 10)
    got = corpus_bleu(["sorted(x)", "len(items) + 1"], ["sorted(x, reverse=True)", "len(items) - 1"])
    assert got == pytest.approx(expected)


def test_perfect_candidate_scores_one_and_unrelated_scores_zero():
    code = "os.path.join(root, name)"
    assert sentence_bleu(code, code) == pytest.approx(1.0)
    assert sentence_bleu("x", ["x"]) == pytest.approx(1.0)  # shorter than 4 tokens still perfect
    assert corpus_bleu([code, "a = b + c"], [code, "a = b + c"]) == pytest.approx(1.0)
    assert sentence_bleu("foo", "bar baz") == 0.0
    assert corpus_bleu(["foo"], ["bar baz"]) == 0.0
    assert sentence_bleu("", code) == 0.0


def test_corpus_bleu_on_published_python_split(source_data):
    codes = [item["Code"] for item in json.loads((source_data / "PythonBenchmarks.json").read_text())["test"]]
    assert corpus_bleu(codes, codes) == pytest.approx(1.0)
    shuffled = codes[1:] + codes[:1]
    assert 0.0 < corpus_bleu(codes, shuffled) < 0.5
    assert all(python_is_valid(c) for c in codes)


# --- validity --------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["x = [i for i in range(3)]", "os.path.join(a, b)", "  return x",
                                  "for x in y: print(x)", "lambda: (yield)", "a[1:2, ::3]"])
def test_valid_python(code):
    assert python_is_valid(code)


@pytest.mark.parametrize("code", ["def f(:", "x = = 1", "", "   ", "print('unterminated", "\x00",
                                  "(" * 500, "if x:", "a b c"])
def test_invalid_python_never_raises(code):
    assert not python_is_valid(code)


# --- CodeBERTScore ---------------------------------------------------------------------


def test_greedy_matching_hand_computed():
    torch = pytest.importorskip("torch")
    candidate = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    reference = torch.tensor([[3.0, 0.0]])
    # cosine: [[1], [0]] -> precision mean(1, 0) = 0.5, recall 1, F1 = 2 * 0.5 / 1.5
    precision, recall, f1 = greedy_match_scores(candidate, reference)
    assert (precision, recall, f1) == pytest.approx((0.5, 1.0, 2 / 3))
    assert greedy_match_scores(reference, reference)[2] == pytest.approx(1.0)
    assert greedy_match_scores(torch.tensor([[0.0, 1.0]]), reference)[2] == pytest.approx(0.0)
    assert greedy_match_scores(torch.zeros(0, 2), reference) == (0.0, 0.0, 0.0)


def test_codebertscore_reports_a_missing_model(tmp_path):
    with pytest.raises(MetricUnavailable, match="model not available"):
        codebertscore_f1(["x = 1"], ["x = 2"], model=str(tmp_path / "no-such-model"))


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory) -> str:
    """A 2-layer BERT with a word-level tokenizer, saved like a hub model, to run the real path."""
    transformers = pytest.importorskip("transformers")
    tokenizers = pytest.importorskip("tokenizers")
    import torch

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "x", "y", "=", "1", "2", "+", "print", "(", ")"]
    vocab = {w: i for i, w in enumerate(words)}
    backend = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    backend.post_processor = tokenizers.processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    directory = tmp_path_factory.mktemp("tiny-encoder")
    transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
        model_max_length=32).save_pretrained(directory)
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=len(words), hidden_size=16, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=32, max_position_embeddings=32)
    transformers.BertModel(config).save_pretrained(directory)
    return str(directory)


def test_codebertscore_runs_a_local_model(tiny_encoder):
    same, different, empty = codebertscore_f1(["x = 1", "print ( y )", ""], ["x = 1", "x = 2 + 1", "x = 1"],
                                              model=tiny_encoder, layer=2)
    assert same == pytest.approx(1.0, abs=1e-5)
    assert different < 1.0
    assert empty == 0.0  # only special tokens, which are dropped: nothing to match
    with pytest.raises(ValueError, match="layer"):
        codebertscore_f1(["x"], ["x"], model=tiny_encoder, layer=10)


# --- diversity -------------------------------------------------------------------------


def test_distinct_ngrams_hand_computed():
    # tokens: [a b a] [a b c] (6 tokens). distinct: 3 unigrams, 3 bigrams (ab, ba, bc), 2 trigrams, no 4-gram
    assert distinct_ngrams(["a b a", "a b c"]) == pytest.approx({1: 3 / 6, 2: 3 / 6, 3: 2 / 6, 4: 0.0})
    # per n-gram: 3/6 unigrams, 3/4 bigrams, 2/2 trigrams, none
    assert distinct_ngrams(["a b a", "a b c"], per="ngrams") == pytest.approx({1: 0.5, 2: 0.75, 3: 1.0, 4: 0.0})


def test_distinct_ngrams_use_code_tokens_and_reward_variety():
    # x = f ( y ) twice: 5 distinct of 10 unigrams; a different second candidate adds new ones
    repeated = distinct_ngrams(["x=f(y)", "x = f( y )"])
    assert repeated[1] == pytest.approx(5 / 10)
    assert distinct_ngrams(["x=f(y)", "z = g(w)"])[1] > repeated[1]
    assert distinct_ngrams([]) == {1: 0.0, 2: 0.0, 3: 0.0, 4: 0.0}


def test_edit_distances_hand_computed():
    assert levenshtein("kitten", "sitting") == 3
    assert levenshtein("", "abc") == 3
    assert normalized_edit_distance("kitten", "sitting") == pytest.approx(3 / 7)
    # pairs: (kitten, sitting) 3/7, (kitten, kitten) 0, (sitting, kitten) 3/7
    assert pairwise_edit_distance(["kitten", "sitting", "kitten"]) == pytest.approx(2 / 7)


def test_edit_distance_extremes():
    assert pairwise_edit_distance(["ls -l"]) == 0.0
    assert pairwise_edit_distance([]) == 0.0
    assert pairwise_edit_distance(["same", "same"]) == 0.0
    assert pairwise_edit_distance(["abc", "xyz"]) == pytest.approx(1.0)
