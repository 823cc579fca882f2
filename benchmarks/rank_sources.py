"""Learn the weights of the ranking over every source (core/retrieval/ranker.py) on the
development mix (core/data/dev.py), never on a test split, for the tool matcher the shipped store
holds (which never learned from the mix):

- the NL2Bash train prompts of the mix, held out of the re-ranking tables (learned here without
  them), each retrieving without its own rows: top-1 template match + 3 x exact match + template
  accuracy, over 5 (the tables' own objective, 0..100);
- the examples of the tldr development pages: their example rows leave the store, their
  documentation stays, as for the held-out pages (tools known only from their docs); top-1 right
  tool (%);
- the mix's examples of the other tldr pages, each retrieving without its own row, its page's
  other examples staying (tools the store has examples of); top-1 right tool (%);
- the everyday file's dev half (even-numbered Bash ids) and the everyday development file
  (benchmarks/everyday-dev.jsonl: its 100 Bash prompts of the same kind, other tasks than the check
  half's, never reported as a benchmark): top-1 accepted (%).

Each prompt's pool (store.pool with the matcher's guesses) is scored row by row (``--cache F``
keeps them). The weights: a listwise softmax fit of what can come first (the tables' first
curated row, every tldr and docs row; each set weighing the same), from the tables' own weights,
then coordinate ascent on the mean of the sets' top-1 figures, with NL2Bash's held no lower than
half a point under the tables' order. Printed: each set's top-1 for the old order (curated rows
first, the tables' order), the tables' weights over the new pool, the listwise fit and the
ascent, the shipped weights (ranker.WEIGHTS), then the result as RankWeights for core/retrieval/ranker.py,
and each set's top-1 / top-5 for the shipped weights with the first five as ordered and as
ranker.varied gives them, at several settings (SAME_TOOL, MARGIN were chosen there).

    python benchmarks/rank_sources.py --data ../shared/data/codefusion [--limit N] [--cache FILE.npz]

``--ceiling``: how far a linear score of the same signals can go on each set when it is fitted on
that set alone (listwise, any row of the pool may come first): in-sample, an upper bound, and in
5 folds; beside the shipped weights with any row first and the pool's best row (each prompt's
best gain: the top-1 of a perfect order). What the signals know, not a way to choose weights.

``--matcher [--man]``: the tool matcher alone instead (core/retrieval/matcher.py, learned as
`cf examples build` learns it, with the man pages' NAME lines of this machine too with ``--man``):
its top-1 / top-5 right tool on each set of the mix (everyday: the tool of the prompt's example),
with a prior of the tools' mentions (store.mentions) added at several weights.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import zlib
from dataclasses import astuple, fields
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def dev_store(dest: Path):
    """A copy of the shipped store without the tldr held-out and development pages' example rows
    (their documentation rows stay)."""
    from core.data.tldr import dev_page, held_out
    from core.retrieval.store import ExampleStore, keep_postings
    from core.retrieval.user import shipped_store

    con = sqlite3.connect(dest)
    shipped_store()._con.backup(con)
    con.create_function("gone", 1, lambda ref: held_out(ref) or dev_page(ref), deterministic=True)
    con.execute("DELETE FROM examples WHERE source = 'tldr' AND gone(ref)")
    keep_postings(con)
    con.commit()
    con.close()
    return ExampleStore(dest)


def dev_tables(train):
    """The re-ranking tables learned from the train split without the mix's prompts."""
    from core.data.dev import dev_prompt
    from core.retrieval.rerank import Lexicon

    return Lexicon.learned("bash", [(it.nl, it.reference) for it in train if not dev_prompt(it.nl)])


def everyday_dev() -> list:
    """The mix's everyday prompts: the everyday file's development half and the development file."""
    from core.data.dev import dev_everyday
    from core.metrics.everyday import load_everyday

    half = [i for i in load_everyday(ROOT / "benchmarks" / "everyday.jsonl", "bash") if dev_everyday(i.id)]
    return half + load_everyday(ROOT / "benchmarks" / "everyday-dev.jsonl", "bash")


def every(items: list, n: int | None) -> list:
    return items[:: max(1, len(items) // n)][:n] if n else items


def read_sets(a, log) -> dict[str, list]:
    """name -> [(features (rows, F), gains (rows,), the old order's first row's gain)]."""
    from bash_rerank import scores
    from cfcli.benches.tldr import find_tarball
    from cfcli.evaluate import load_items
    from core.data.dev import dev_example, dev_prompt
    from core.data.tldr import command, dev_page, load_tldr
    from core.retrieval.ranker import Ranker
    from core.retrieval.rerank import POOL
    from core.retrieval.tools import tool_of
    from core.retrieval.values import fill_example

    train = load_items("bash", "train", a.data)
    log("learning the tables without the mix's NL2Bash prompts ...")
    lexicon = dev_tables(train)
    nl2bash = every(list({it.nl: it for it in reversed(train) if dev_prompt(it.nl)}.values()), a.limit)
    pages = [e for e in load_tldr(find_tarball(a.data), raw=True) if dev_example(e.id)]
    docs_only = every([e for e in pages if dev_page(e.id)], a.limit)
    seen = every([e for e in pages if not dev_page(e.id)], a.limit)
    everyday = everyday_dev()

    def composite(ref):
        def gain(code):
            tm, em, ta = scores([code], ref)[:3]
            return (tm + 3 * em + ta) / 5
        return gain

    def right_tool(tool):
        return lambda code: float(tool_of(code) == tool)

    with tempfile.TemporaryDirectory() as tmp:
        store = dev_store(Path(tmp) / "dev.sqlite")
        ranker = Ranker(store)
        ranker.lexicon = lexicon

        def pools(items):
            out = []
            for prompt, exclude, gain in items:
                rows, clues = ranker.pool(prompt, exclude)
                old = store.retrieve(prompt, "bash", POOL, exclude_nl=exclude)
                old_first = old[lexicon.order(prompt, [e.code for e in old])[0]].code if old else ""
                rows = [ranker._with_placeholders(r) for r in rows]  # a tldr row's gain with the prompt's values in
                out.append((ranker.features(prompt, rows, clues), [gain(fill_example(r.code, r, prompt)) for r in rows],
                            gain(old_first), [zlib.crc32(tool_of(r.code).encode()) for r in rows]))
            return out

        log("reading pools ...")
        sets = {
            "nl2bash": pools([(it.nl, it.nl, composite(it.reference)) for it in nl2bash]),
            "tldr-docs": pools([(e.nl, None, right_tool(tool_of(command(e.code)))) for e in docs_only]),
            "tldr-seen": pools([(e.nl, e.nl, right_tool(tool_of(command(e.code)))) for e in seen]),
            "everyday": pools([(i.prompt, None, (lambda i: lambda c: float(i.accepts(c)))(i)) for i in everyday]),
        }
        store.close()
    return sets


ARRAYS = ("feats", "gains", "mask", "old", "tools")


def padded(sets):
    """name -> (features (N, R, F), gains (N, R), mask (N, R), old (N,), the rows' tools as CRC32
    (N, R)) as numpy arrays."""
    import numpy as np

    out = {}
    for name, items in sets.items():
        n, r = len(items), max(len(g) for _, g, _, _ in items)
        f = len(items[0][0][0])
        feats, gains, mask = np.zeros((n, r, f)), np.zeros((n, r)), np.zeros((n, r), dtype=bool)
        tools = np.zeros((n, r), dtype=np.int64)
        for i, (fs, gs, _, ts) in enumerate(items):
            feats[i, : len(gs)], gains[i, : len(gs)], mask[i, : len(gs)], tools[i, : len(gs)] = fs, gs, True, ts
        out[name] = (feats, gains, mask, np.array([old for _, _, old, _ in items]), tools)
    return out


def first_five(arrays, weights) -> None:
    """Top-1 / top-5 of each set with the shipped weights in ranker.order's order, as it stands and
    with ranker.varied's first five at a few settings (a row of the pool counts as the candidate
    that edits it, filled with the prompt's values)."""
    from core.retrieval.ranker import MARGIN, SAME_TOOL, order, scores, varied

    print("the first five (ranker.varied), top-1 / top-5 %:")
    for most, margin in ((0, 0.0), (3, 99.0), (3, 1.0), (2, 99.0), (2, 2.0), (2, 1.0), (2, 0.5), (1, 99.0), (1, 2.0),
                         (1, 1.0), (1, 0.5)):
        figures = []
        for name, (feats, gains, mask, _, tools) in arrays.items():
            one = five = 0.0
            for f, g, m, t in zip(feats, gains, mask, tools):
                f, g, t = [tuple(x) for x in f[m]], g[m], t[m].tolist()
                s = scores(f, weights)
                best = order(f, weights, s)
                if most:
                    best = varied(best, t, s, most=most, margin=margin)
                one, five = one + g[best[0]], five + max(g[j] for j in best[:5])
            figures.append(f"{name} {100 * one / len(feats):.1f} / {100 * five / len(feats):.1f}")
        label = "as ordered" if not most else f"at most {most} of a tool, margin {margin:g}" + (
            " (shipped)" if (most, margin) == (SAME_TOOL, MARGIN) else "")
        print(f"  {label:40} " + "  ".join(figures))


def listwise_set(feats, gains, can):
    """One set for ``fit_listwise``: its prompts with a row of gain among those that ``can`` come
    first, as tensors (features, the best of those rows, ``can``)."""
    import numpy as np
    import torch

    g = np.where(can, gains, -1)
    keep = g.max(1) > 0
    best = (g == g.max(1, keepdims=True)) & can & keep[:, None]
    return torch.tensor(feats[keep], dtype=torch.float32), torch.tensor(best[keep]), torch.tensor(can[keep])


def fit_listwise(sets, start, steps: int):
    """Listwise softmax fit: -log of the softmax mass on each prompt's best rows among those that
    can come first, mean per set, sets averaged (``sets``: listwise_set's), from ``start``."""
    import torch

    w = torch.tensor(start, dtype=torch.float32, requires_grad=True)
    opt = torch.optim.Adam([w], lr=0.05)
    for _ in range(steps):
        loss = 0.0
        for feats, best, mask in sets:
            s = (feats @ w).masked_fill(~mask, -1e9)
            loss = loss + (torch.logsumexp(s, 1) - torch.logsumexp(s.masked_fill(~best, -1e9), 1)).mean()
        loss = loss / len(sets) + 1e-3 * (w * w).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return w.detach()


def ceiling(arrays, shipped, steps: int) -> None:
    import numpy as np

    def figures(feats, gains, mask, w):
        s = np.where(mask, feats @ w, -np.inf)
        top = np.argsort(-s, 1, kind="stable")[:, :5]
        picked = np.take_along_axis(gains, top, 1)
        return 100 * picked[:, 0].mean(), 100 * picked.max(1).mean()

    print("each set fitted on itself, any row of the pool first, top-1 / top-5 %:")
    for name, (feats, gains, mask, *_) in arrays.items():
        best = 100 * np.where(mask, gains, 0).max(1).mean()
        line = [f"shipped {'%.1f / %.1f' % figures(feats, gains, mask, shipped)}"]
        w = fit_listwise([listwise_set(feats, gains, mask)], shipped, steps).numpy().astype("float64")
        line.append(f"fitted on itself {'%.1f / %.1f' % figures(feats, gains, mask, w)}")
        folds = np.array_split(np.random.default_rng(0).permutation(len(gains)), 5)
        one = []
        for k, test in enumerate(folds):
            train = np.concatenate([f for i, f in enumerate(folds) if i != k])
            w = fit_listwise([listwise_set(feats[train], gains[train], mask[train])], shipped,
                             steps).numpy().astype("float64")
            one.append(figures(feats[test], gains[test], mask[test], w)[0] * len(test))
        line.append(f"5 folds top-1 {sum(one) / len(gains):.1f}")
        print(f"  {name:10} ({len(gains)}) the pool's best row {best:.1f};  " + ";  ".join(line))


def matcher_study(a) -> int:
    from cfcli.benches.tldr import find_tarball
    from cfcli.evaluate import load_items
    from core.data.dev import dev_example, dev_prompt
    from core.data.tldr import command, dev_page, load_tldr
    from core.retrieval.build import docs_rows, matcher_pairs, tldr_rows, train_rows
    from core.retrieval.matcher import train_matcher
    from core.retrieval.tools import tool_of

    tarball = find_tarball(a.data)
    rows = list(train_rows(a.data)) + list(tldr_rows(tarball)) + list(docs_rows(tarball, man=a.man))
    pairs = matcher_pairs(rows)
    if a.man:  # matcher_pairs leaves the man lines out of what the shipped matcher learns
        pairs += [(nl, code) for _, nl, code, _, ref in rows if ref.startswith("docs:man/")]
    matcher = train_matcher(pairs)
    pages = [e for e in load_tldr(tarball, raw=True) if dev_example(e.id)]
    sets = {
        "nl2bash": [(it.nl, tool_of(it.reference)) for it in load_items("bash", "train", a.data) if dev_prompt(it.nl)],
        "tldr-docs": [(e.nl, tool_of(command(e.code))) for e in pages if dev_page(e.id)],
        "tldr-seen": [(e.nl, tool_of(command(e.code))) for e in pages if not dev_page(e.id)],
        "everyday": [(i.prompt, tool_of(i.example)) for i in everyday_dev()],
    }
    import math

    import torch

    from core.retrieval.user import shipped_store

    mentions = shipped_store().mentions("bash")
    log_mentions = torch.tensor([math.log1p(mentions.get(t, 0)) for t in matcher.tools])
    print(f"tool matcher ({len(matcher.tools)} tools, {len(pairs)} pairs{', with man lines' if a.man else ''}): "
          "right tool top-1 / top-5 %, guesses ranked by log p + prior x log(1 + mentions) "
          "(the ranking uses no prior: its first row was no better for it, docs/results.md)")
    for prior in (0.0, 0.1, 0.2, 0.3, 0.5):
        figures = []
        for name, items in sets.items():
            top = (matcher.log_probs([p for p, _ in items]) + prior * log_mentions).topk(5).indices.tolist()
            one = sum(matcher.tools[r[0]] == t for r, (_, t) in zip(top, items)) / len(items)
            five = sum(t in {matcher.tools[i] for i in r} for r, (_, t) in zip(top, items)) / len(items)
            figures.append(f"{name} ({len(items)}) {100 * one:.1f} / {100 * five:.1f}")
        print(f"  prior {prior:.1f}  " + "  ".join(figures))
    return 0


def main() -> int:
    import numpy as np

    from core.retrieval.ranker import _DOCS as DOCS
    from core.retrieval.ranker import _TLDR as TLDR
    from core.retrieval.ranker import TABLES_ONLY, WEIGHTS, RankWeights

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", help="the published data folder")
    p.add_argument("--limit", type=int, help="N prompts of each NL2Bash and tldr set (every k-th) only")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--cache", type=Path, help="keep the pools' features here (read when it exists)")
    p.add_argument("--matcher", action="store_true", help="the tool matcher alone (see above)")
    p.add_argument("--ceiling", action="store_true", help="each set fitted on itself (see above)")
    p.add_argument("--man", action="store_true", help="--matcher: also learn this machine's man pages' NAME lines")
    a = p.parse_args()
    if a.matcher:
        return matcher_study(a)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    if a.cache and a.cache.exists():
        z = np.load(a.cache)
        names = sorted({key.split("/")[0] for key in z.files})
        if any(f"{name}/{k}" not in z.files for name in names for k in ARRAYS):
            sys.exit(f"{a.cache}: a cache of an older rank_sources.py (without {', '.join(ARRAYS)}): remove it")
        arrays = {name: tuple(z[f"{name}/{k}"] for k in ARRAYS) for name in names}
    else:
        arrays = padded(read_sets(a, log))
        if a.cache:
            np.savez_compressed(a.cache, **{f"{name}/{k}": v for name, t in arrays.items()
                                            for k, v in zip(ARRAYS, t)})

    if a.ceiling:
        ceiling(arrays, np.asarray(astuple(WEIGHTS)), a.steps)
        return 0

    from core.retrieval.rerank import WEIGHTS as TABLES

    tables = np.asarray(astuple(TABLES))
    firsts = {}  # name -> (the tables' first curated row, mask of the other rows)
    for name, (feats, gains, mask, *_) in arrays.items():
        others = mask & ((feats[:, :, TLDR] > 0) | (feats[:, :, DOCS] > 0))
        curated = mask & ~others
        t = np.where(curated, feats[:, :, : len(tables)] @ tables, -np.inf)
        firsts[name] = (t.argmax(1), curated.any(1), others)

    def first_rows(name, w):
        """ranker.order's first row: the tables' first curated row unless a tldr/docs row scores higher."""
        feats, _, mask, *_ = arrays[name]
        c0, has_curated, others = firsts[name]
        s = feats @ np.asarray(w)
        n = np.arange(len(s))
        best_other = np.where(others, s, -np.inf).argmax(1)
        take_other = others.any(1) & (~has_curated | (s[n, best_other] > s[n, c0]))
        return np.where(take_other, best_other, c0)

    def figures(w) -> dict[str, float]:
        w = astuple(w) if isinstance(w, RankWeights) else w
        return {name: 100 * t[1][np.arange(len(t[1])), first_rows(name, w)].mean() for name, t in arrays.items()}

    old = {name: 100 * t[3].mean() for name, t in arrays.items()}
    floor = figures(TABLES_ONLY)["nl2bash"] - 0.5

    def objective(w) -> float:
        m = figures(w)
        return sum(m.values()) / len(m) - (100 if m["nl2bash"] < floor else 0)

    # Listwise over what can come first (the tables' first curated row and every tldr/docs row):
    # -log of the softmax mass on the best of them, mean per set, sets averaged.
    data = []
    for name, (feats, gains, mask, *_) in arrays.items():
        c0, has_curated, others = firsts[name]
        can = others.copy()
        can[np.arange(len(c0)), c0] |= has_curated
        data.append(listwise_set(feats, gains, can))
    w = fit_listwise(data, astuple(TABLES_ONLY), a.steps)
    listwise = [round(x, 2) for x in w.tolist()]
    # Coordinate ascent on the figures themselves, from the best of the fit, the tables alone and
    # the shipped weights.
    found = max([listwise, list(astuple(TABLES_ONLY)), list(astuple(WEIGHTS))], key=objective)
    value = objective(found)
    for _ in range(6):
        moved = False
        for i in range(len(found)):
            for step in (-1.0, -0.5, -0.2, -0.1, 0.1, 0.2, 0.5, 1.0):
                trial = found[:i] + [round(found[i] + step, 2)] + found[i + 1:]
                v = objective(trial)
                if v > value + 0.05:
                    found, value, moved = trial, v, True
        if not moved:
            break
    found = RankWeights(*found)
    print("development mix, top-1 %: " + ", ".join(f"{name} {len(t[3])}" for name, t in arrays.items())
          + " (nl2bash: (TM + 3 EM + TA) / 5; tldr: right tool; everyday: accepted)")
    for label, m in (("old order (curated first, tables)", old), ("new pool, tables' weights", figures(TABLES_ONLY)),
                     ("new pool, the shipped weights", figures(WEIGHTS)),
                     ("new pool, listwise fit", figures(listwise)), ("new pool, + coordinate ascent", figures(found))):
        print(f"  {label:36} " + "  ".join(f"{k} {v:.1f}" for k, v in m.items())
              + f"  mean {sum(m.values()) / len(m):.1f}")
    for field in fields(found):
        print(f"    without {field.name:15} " + "  ".join(
            f"{k} {v:.1f}" for k, v in figures(RankWeights(**{**found.__dict__, field.name: 0.0})).items()))
    print(repr(found))
    first_five(arrays, WEIGHTS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
