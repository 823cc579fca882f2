"""core.model.t5 is transformers' T5 encoder written out (for a fast start): same parameter
names, same outputs, for both feed-forward kinds, with padding."""

from __future__ import annotations

import pytest
import torch

from core.model.t5 import CONFIG_KEYS, T5Encoder, relative_bucket


@pytest.mark.parametrize("ff", ["relu", "gated-gelu"])
def test_matches_transformers_t5_encoder(ff):
    from transformers import T5Config, T5EncoderModel

    config = dict(vocab_size=300, d_model=64, d_kv=16, d_ff=96, num_layers=3, num_heads=4,
                  relative_attention_num_buckets=32, relative_attention_max_distance=128, dropout_rate=0.0,
                  layer_norm_epsilon=1e-6, feed_forward_proj=ff, pad_token_id=0, decoder_start_token_id=0)
    torch.manual_seed(0)
    hf = T5EncoderModel(T5Config(**config, is_encoder_decoder=False, use_cache=False)).eval()
    ours = T5Encoder(config).eval()
    assert set(ours.state_dict()) == set(hf.state_dict())
    ours.load_state_dict(hf.state_dict(), strict=True)
    ids = torch.randint(1, 300, (3, 150))  # longer than max_distance: the log buckets count
    mask = torch.ones_like(ids)
    mask[1, 100:] = 0
    mask[2, 7:] = 0
    with torch.no_grad():
        want = hf(input_ids=ids, attention_mask=mask).last_hidden_state
        got = ours(ids, mask)
    keep = mask.bool()
    assert torch.allclose(got[keep], want[keep], atol=1e-4, rtol=1e-4)
    assert set(CONFIG_KEYS) <= set(config)


def test_relative_buckets_are_exact_nearby_and_symmetric_in_direction():
    rel = torch.arange(-200, 201)
    b = relative_bucket(rel, 32, 128)
    assert b.min() >= 0 and b.max() < 32
    assert torch.equal(b[200 + 1:200 + 8], torch.arange(17, 24))  # 1..7 after: exact, upper half
    assert torch.equal(b[200 - 7:200], torch.arange(7, 0, -1))  # 7..1 before: exact, lower half
    assert b[-1] == b[-50] == 31  # beyond max_distance: the last bucket
