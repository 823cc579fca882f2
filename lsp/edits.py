"""Build the LSP answers (code actions, completion items, inline completions) from candidates.

Pure: the document's text and candidates in, lsprotocol objects out. Columns sent to the client
are counted in its position encoding through ``Text.width`` (UTF-16 unless negotiated), and
inserted lines end as the document's lines do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from lsprotocol import types

from lsp.prompts import CommentPrompt, index_at_column, line_ending, prompt_ending_at, split_lines

Width = Callable[[str], int]
CODE_ACTION_KIND = types.CodeActionKind.RefactorRewrite
TITLE_CHARS = 72


def utf16_width(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class Text:
    """A document as the edit builders need it."""

    lines: Sequence[str]
    width: Width = utf16_width  # the client's column units
    newline: str = "\n"

    @classmethod
    def of(cls, source: str, width: Width = utf16_width) -> "Text":
        return cls(split_lines(source), width, line_ending(source))


@dataclass(frozen=True)
class CompletionSite:
    """Where completion items go: a span of one line replaced by the code (and maybe a newline)."""

    prompt: CommentPrompt
    line: int
    start: int  # indexes into the line (Python str); on the line below, text before start is the indent
    end: int
    newline_first: bool  # on the comment itself: keep its text up to the end, then the code on a new line


def first_line(code: str, limit: int = TITLE_CHARS) -> str:
    lines = code.strip().splitlines() or [""]
    head = lines[0].rstrip()
    more = len(lines) > 1
    if len(head) > limit:
        head, more = head[: limit - 1].rstrip(), True
    return head + (" …" if more else "")


def indent_code(code: str, indent: str, newline: str = "\n") -> str:
    """Every non-blank line of the candidate at the comment's indentation."""
    return newline.join(indent + line if line.strip() else "" for line in code.strip("\n").split("\n"))


def describe(candidate, rank: int) -> str:
    """One line for completion ``detail``: rank, calibrated confidence (the raw score only for a
    model without a calibration; core/confidence.py), where it came from, validity, what it
    deletes, overwrites, kills or sends, and its warnings."""
    confidence = getattr(candidate, "confidence", None)
    parts = [f"CodeFusion #{rank}",
             f"{round(100 * confidence)}% likely right" if confidence is not None else f"score {candidate.score:.3f}"]
    parts += [candidate.origin] if getattr(candidate, "origin", "") else []
    parts += ["valid syntax" if candidate.valid else "invalid syntax"]
    warnings = list(getattr(candidate, "warnings", None) or [])  # warnings: newer core versions
    parts += [e for e in getattr(candidate, "effects", None) or [] if e not in warnings]
    return " · ".join(parts + warnings)


def warning_suffix(candidate) -> str:
    """What is dangerous about a candidate, and what it deletes, overwrites, kills or formats,
    said in the title before anyone applies it."""
    from core.effects import DESTRUCTIVE

    warnings = list(getattr(candidate, "warnings", None) or [])
    warnings += [e for e in getattr(candidate, "effects", None) or []
                 if e.split(" ", 1)[0] in DESTRUCTIVE and e not in warnings]
    return f" (⚠ {'; '.join(warnings)})" if warnings else ""


def _position(text: Text, line: int, index: int) -> types.Position:
    return types.Position(line=line, character=text.width(text.lines[line][:index]))


def _end_of_line(text: Text, line: int) -> types.Position:
    return _position(text, line, len(text.lines[line]))


def insert_below_edit(prompt: CommentPrompt, code: str, text: Text) -> types.TextEdit:
    body = indent_code(code, prompt.indent, text.newline)
    below = prompt.last_line + 1
    if below < len(text.lines):
        at = types.Position(line=below, character=0)
        return types.TextEdit(range=types.Range(start=at, end=at), new_text=body + text.newline)
    # The comment is the last line and has no newline after it.
    at = _end_of_line(text, prompt.last_line)
    return types.TextEdit(range=types.Range(start=at, end=at), new_text=text.newline + body)


def replace_prompt_edit(prompt: CommentPrompt, code: str, text: Text) -> types.TextEdit:
    start = types.Position(line=prompt.first_line, character=0)
    return types.TextEdit(range=types.Range(start=start, end=_end_of_line(text, prompt.last_line)),
                          new_text=indent_code(code, prompt.indent, text.newline))


def workspace_edit(uri: str, version: int | None, edit: types.TextEdit, versioned: bool) -> types.WorkspaceEdit:
    # Versioned edits let the editor refuse them if the document changed since the request.
    if versioned:
        doc = types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version)
        return types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(text_document=doc, edits=[edit])])
    return types.WorkspaceEdit(changes={uri: [edit]})


def wants_our_kind(only: Sequence[str] | None) -> bool:
    """Whether a codeAction request filtered by ``only`` (e.g. source actions on save) wants ours."""
    if not only:
        return True
    kind = str(CODE_ACTION_KIND.value)
    return any(kind == str(o) or kind.startswith(f"{o}.") for o in only)


def preferred_rank(candidates: Sequence) -> int | None:
    """The candidate an editor may apply without a look (auto-fix): the best one that parses and
    has no warnings, if any."""
    return next((rank for rank, c in enumerate(candidates) if c.valid and not warning_suffix(c)), None)


def code_actions(uri: str, version: int | None, prompt: CommentPrompt, candidates: Sequence, text: Text,
                 versioned: bool = False) -> list[types.CodeAction]:
    """One action per ranked candidate (insert below the comment), then one replacing the comment."""
    preferred = preferred_rank(candidates)
    actions = [
        types.CodeAction(
            title=f"CodeFusion: {first_line(c.code)}{warning_suffix(c)}",
            kind=CODE_ACTION_KIND,
            is_preferred=rank == preferred,
            edit=workspace_edit(uri, version, insert_below_edit(prompt, c.code, text), versioned),
        )
        for rank, c in enumerate(candidates)
    ]
    if candidates:
        top = candidates[0].code
        actions.append(types.CodeAction(
            title=f"CodeFusion: replace the comment with {first_line(top)}",
            kind=CODE_ACTION_KIND,
            edit=workspace_edit(uri, version, replace_prompt_edit(prompt, top, text), versioned),
        ))
    return actions


def completion_site(text: Text, line: int, column: int, lang: str) -> CompletionSite | None:
    """Completion applies on the line below a prompt (when nothing but blanks follow the cursor)
    and anywhere on the prompt's last comment line."""
    if not 0 <= line < len(text.lines):
        return None
    here = text.lines[line]
    cursor = index_at_column(here, column, text.width)
    above = prompt_ending_at(text.lines, line - 1, lang) if line > 0 and not here[cursor:].strip() else None
    if above is not None:
        # The editor already indented the new line like the comment: insert at the cursor, which
        # also suits clients that ignore the edit's range (Neovim's omnifunc); else redo the line.
        start = cursor if here[:cursor] == above.indent else 0
        return CompletionSite(above, line, start, len(here), newline_first=False)
    ending_here = prompt_ending_at(text.lines, line, lang)
    if ending_here is not None:
        # The edit must hold the cursor (LSP): it replaces the rest of the comment by itself.
        return CompletionSite(ending_here, line, cursor, len(here), newline_first=True)
    return None


def site_edit(site: CompletionSite, code: str, text: Text) -> types.TextEdit:
    body = indent_code(code, site.prompt.indent, text.newline)
    rng = types.Range(start=_position(text, site.line, site.start), end=_position(text, site.line, site.end))
    if site.newline_first:
        rest = text.lines[site.line][site.start:site.end]
        return types.TextEdit(range=rng, new_text=rest + text.newline + body)
    return types.TextEdit(range=rng, new_text=body[site.start:])  # the indentation before start stays


def completion_items(site: CompletionSite, candidates: Sequence, text: Text,
                     markdown: bool = True) -> list[types.CompletionItem]:
    items = []
    for rank, c in enumerate(candidates):
        edit = site_edit(site, c.code, text)
        code_text = edit.new_text[site.end - site.start:] if site.newline_first else edit.new_text
        doc = (types.MarkupContent(kind=types.MarkupKind.Markdown, value=f"```\n{c.code}\n```\n\nfor: *{site.prompt.text}*")
               if markdown else f"{c.code}\n\nfor: {site.prompt.text}")
        items.append(types.CompletionItem(
            label=first_line(c.code),
            kind=types.CompletionItemKind.Text,  # not Snippet: plain text, no placeholders
            detail=describe(c, rank + 1),
            documentation=doc,
            sort_text=f"{rank:02d}",  # editors sort by this: keeps the model's ranking
            # What the client compares with the typed text in the edit's range.
            filter_text=(code_text.lstrip("\r\n").splitlines() or [""])[0],
            # Plain text: shell code is full of $ that snippet syntax would eat.
            insert_text_format=types.InsertTextFormat.PlainText,
            text_edit=edit,
            preselect=rank == 0,
        ))
    return items


def inline_completion_items(site: CompletionSite, candidates: Sequence, text: Text) -> list[types.InlineCompletionItem]:
    out = []
    for c in candidates:
        edit = site_edit(site, c.code, text)
        out.append(types.InlineCompletionItem(insert_text=edit.new_text, range=edit.range))
    return out
