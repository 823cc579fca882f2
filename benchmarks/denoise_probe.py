"""How much of the code one denoising step recovers at each noise level: the reference's own
embedding L(y) is noised to step t, denoised once, rounded through the decoder and head, and
compared with y (tokens up to the first pad, and whole sequences). Sampling from noise can only
be as good as these one-step predictions where it starts; where they are already near-perfect,
the sampler's steps do little.

    python benchmarks/denoise_probe.py --model runs/v1 --lang bash --items 128 \
        --steps 1199,1150,1100,1000,900,600,300,0
"""

from __future__ import annotations

import argparse


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="model name or directory")
    ap.add_argument("--lang", default="bash")
    ap.add_argument("--items", type=int, default=128, help="the first N pairs of each split that fit")
    ap.add_argument("--steps", default="1199,1150,1100,1000,900,600,300,0", help="timesteps t, comma-separated")
    ap.add_argument("--data", default=None)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    import torch

    from core.checkpoint import load_model
    from core.data import load_pairs, tag_prompt
    from core.data.literals import mask_pair
    from core.registry import resolve_model
    from core.tokenizer import pad_prompts
    from core.train.data import TrainingSet

    m, tok, _ = load_model(resolve_model(a.model))  # fp32, eval mode
    steps = [int(t) for t in a.steps.split(",")]
    print(f"{a.model}, {a.lang}: tokens right / whole sequences right after one denoising step from L(y) noised to t")
    print("| split | " + " | ".join(f"t={t}" for t in steps) + " |")
    print("|---|" + "---|" * len(steps))
    for split in ("test", "train"):
        torch.manual_seed(a.seed)
        # The rows as training makes them: code that fits, padded to code_len; prompts tagged.
        pairs = load_pairs(a.lang, split, a.data)
        if m.cfg.literal_slots:
            pairs = [mask_pair(p) for p in pairs]
        rows = TrainingSet(tok, m.cfg.code_len, m.cfg.prompt_len, [p.code for p in pairs],
                           [tag_prompt(p.nl, a.lang, m.cfg.langs) for p in pairs], lang=a.lang)
        codes = rows.code_ids[:a.items]
        ids, mask = pad_prompts(rows.prompt_rows[:a.items], tok.pad_id)
        scored = m.scored_positions(codes)
        cells = []
        with torch.inference_mode():
            dn, dc = m.cross(m.encode(ids, mask), mask)
            x0 = m.embed(codes)
            for t in steps:
                tt = torch.full((len(codes),), t)
                x_t = m.scheduler.add_noise(x0, torch.randn_like(x0), tt)
                right = (m.logits(m.decode(m.denoise(x_t, tt, dn), dc)).argmax(-1) == codes) & scored
                whole = (right | ~scored).all(1).float().mean()
                cells.append(f"{100 * right.sum() / scored.sum():.0f} / {100 * whole:.0f}")
        print(f"| {split} ({len(codes)}) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
