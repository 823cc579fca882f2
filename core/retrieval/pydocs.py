"""The Python standard library's own documentation as examples: each public function's docstring
summary and its call, read from the running interpreter (`cf examples build`).

CoNaLa's train split, the Python store's only rows before, has no `os.getcwd()`, `math.sqrt(x)`
or `s.startswith(prefix)`; two in five everyday Python prompts got a right first candidate.
A row here is the first sentence of a docstring ("Return the square root of x.") and a call with
the required parameters' own names (`math.sqrt(x)`), which the model edits as any example; a
method of str, list or dict is called on a conventional name (`s.replace(old, new)`).

A docstring says what the function does ("Return ...", "Test whether ..."); a user asks for what
they want ("get ...", "check if ..."): those openings are rewritten so that bm25 sees the user's
verbs. The docstrings are the Python Software Foundation's (PSF License; the store's NOTICE).
"""

from __future__ import annotations

import importlib
import inspect
import re
from typing import Iterator

# Modules whose functions people ask for by what they do; their own helpers and low-level calls
# (os.sched_*, os.exec*) come with them.
MODULES = ("os", "os.path", "shutil", "json", "time", "math", "random", "re", "subprocess", "glob", "string",
           "statistics", "urllib.parse", "urllib.request", "itertools", "functools", "base64", "hashlib")
# Methods of the builtin types, called on the name code usually gives such a value.
RECEIVERS = {str: "s", list: "items", dict: "d"}
# Classes whose class methods make values (datetime.datetime.now()).
CONSTRUCTORS = (("datetime", "datetime"), ("datetime", "date"))
_SIGNATURE_LINE = re.compile(r"^[\w.]+\(.*\)(\s*-{1,2}>.*)?$|^[SDLB]\.\w+\(")
_ARROW = re.compile(r"\)\s*-{1,2}>\s*(.+)$")
_OPENINGS = ((re.compile(r"^Returns? (?:true|True) if "), "Check if "),
             (re.compile(r"^(?:Returns?|Gets?) "), "Get "),
             (re.compile(r"^Tests? whether "), "Check if "))


def summary(doc: str | None) -> str:
    """A docstring's first sentence, past its signature lines (``makedirs(name [, mode=0o777])``,
    ``dict(mapping) -> new dictionary ...`` and their indented continuations) and its doctest
    examples, its opening in a user's words. A docstring of signature lines alone says what it
    makes after the arrow (``dict() -> new empty dictionary``)."""
    lines = (doc or "").splitlines()
    arrow, signed = "", False
    while lines:
        line = lines[0].strip()
        signature = _SIGNATURE_LINE.match(line)
        if line and not signature and not (signed and lines[0][:1].isspace()):
            break
        if signature:
            signed = True
            m = _ARROW.search(line)
            said = re.sub(r"^None\.?\s*", "", m.group(1).strip()) if m else ""  # D.clear() -> None.  Remove all ...
            arrow = arrow or (said if re.match(r"(?:(?:an?|the)\s+)?[A-Za-z][\w-]+\s+\w", said) else "")  # not "x."
        lines.pop(0)
    prose: list[str] = []
    for line in lines:  # the first paragraph that is no doctest (``>>> ...`` and its output)
        if not line.strip():
            if prose:
                break
            continue
        if line.strip().startswith(">>>") or (not prose and line[:1].isspace()):
            continue
        prose.append(line.strip())
    paragraph = " ".join(prose) or arrow
    m = re.match(r"(.+?[.!?])(?:\s|$)", paragraph)
    text = (m.group(1) if m else paragraph).strip()
    for opening, said in _OPENINGS:
        text = opening.sub(said, text, count=1)
    return text


def required(f, doc: str | None) -> list[str] | None:
    """The names of a callable's required positional parameters (from its signature, else from
    its docstring's signature lines); None where neither says. A class needs none (``int()`` is
    0), but people call one to convert a value: its first parameter then (``int(x)``,
    ``str(object)``, ``set(iterable)``)."""
    try:
        params = [p for p in inspect.signature(f).parameters.values() if p.name != "self"
                  and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        lines = [line.strip() for line in (doc or "").strip().splitlines()]
        found = []
        for line in lines:  # int([x]) -> integer / int(x, base=10) -> integer
            m = re.match(r"^[\w.]+\(([^)]*)\)", line)
            if not m:
                break
            found.append([a.strip() for a in m.group(1).replace("[", ",").replace("]", "").split(",")
                          if a.strip() and a.strip() != "/"])
        if not found:
            return None
        need = [a for a in re.match(r"^[\w.]+\(([^)\[]*)", lines[0]).group(1).split(",")
                if a.strip() and "=" not in a and not a.strip().startswith("*")]
        need = [re.match(r"\s*(\w*)", a).group(1) for a in need]  # filter(function or None, ...), name: str
        first = next((names for names in found if names), [])
        if not need and inspect.isclass(f) and first and not first[0].startswith("*"):
            need = [first[0].split("=")[0].strip()]  # zip(*iterables, strict=False): none
        return need
    need = [p.name for p in params if p.default is p.empty]
    if not need and inspect.isclass(f) and params:
        need = [params[0].name]
    return need


def _row(f, call: str, ref: str) -> tuple[str, str, str, str, str] | None:
    doc = inspect.getdoc(f)
    text, names = summary(doc), required(f, doc)
    if not text or names is None or not re.search(r"[a-z]", text):
        return None
    return "python", text, f"{call}({', '.join(names)})", "docs", f"docs:python/{ref}"


def python_docs_rows() -> Iterator[tuple[str, str, str, str, str]]:
    """(lang, nl, code, source, ref) rows, as core/retrieval/build.py makes them."""
    import builtins

    found = []
    for name in MODULES:
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", None) or dir(module):
            f = getattr(module, attr, None)
            if attr.startswith("_") or inspect.isclass(f) or not callable(f):
                continue
            home = getattr(f, "__module__", None) or module.__name__
            if home not in (module.__name__, "posix", "posixpath", "genericpath") and not home.startswith("_"):
                continue  # imported from elsewhere; kept: a module's C part (_hashlib) and os.path's own
            found.append(_row(f, f"{name}.{attr}", f"{name}.{attr}"))
    for kind, receiver in RECEIVERS.items():
        for attr in dir(kind):
            if not attr.startswith("_"):
                found.append(_row(getattr(kind, attr), f"{receiver}.{attr}", f"{kind.__name__}.{attr}"))
    for module, cls in CONSTRUCTORS:
        kind = getattr(importlib.import_module(module), cls)
        for attr in dir(kind):
            if not attr.startswith("_") and getattr(getattr(kind, attr), "__self__", None) is kind:  # a class method
                found.append(_row(getattr(kind, attr), f"{module}.{cls}.{attr}", f"{module}.{cls}.{attr}"))
    for attr in dir(builtins):
        f = getattr(builtins, attr)
        if not attr.startswith("_") and callable(f) and not (inspect.isclass(f) and issubclass(f, BaseException)):
            found.append(_row(f, attr, f"builtins.{attr}"))
    seen = set()
    for row in found:  # once each call, and each description (os.path.lexists says what exists says)
        if row and row[1] not in seen and row[2] not in seen:
            seen.update(row[1:3])
            yield row


_CALL = re.compile(r"^(?P<head>[\w.]+)\((?P<args>[\w, ]*)\)$")
_NAME = re.compile(r"[A-Za-z_]\w*")


def _prompt_values(prompt: str) -> list[str]:
    """The prompt's values in its order, as the literal slots read them (core/data/literals.py):
    a backquoted name as code, a quoted string with its quotes, a number outside quotes."""
    from core.data.literals import NUMBER, QUOTED

    quoted = list(QUOTED.finditer(prompt))
    found = [(m.start(), m.group(1) or m.group(0)) for m in quoted]
    found += [(m.start(), m.group(0)) for m in NUMBER.finditer(prompt)
              if not any(q.start() <= m.start() < q.end() for q in quoted)]
    return [value for _, value in sorted(found)]


def with_values(example, prompt: str):
    """A documentation row's call with the prompt's values for its parameters, in order ("sleep
    for 2 seconds": `time.sleep(seconds)` -> `time.sleep(2)`); a parameter no value fills keeps
    its name, for the user to see. A train row's call too where every argument is a name
    (CoNaLa's `random.randint(a, b)`: Python's test split's top-1 BLEU 26.72 -> 27.63); other rows
    as they are (their values are the model's to replace; a user's row comes back as written)."""
    from dataclasses import replace

    m = _CALL.match(example.code) if example.lang == "python" and example.source in ("docs", "train") else None
    names = [a.strip() for a in m.group("args").split(",") if a.strip()] if m else []
    if example.source == "train" and not all(_NAME.fullmatch(n) for n in names):
        names = []
    values = _prompt_values(prompt) if names else []
    if not values:
        return example
    filled = values[:len(names)] + names[len(values):]
    return replace(example, code=f"{m.group('head')}({', '.join(filled)})")
