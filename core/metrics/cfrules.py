"""An interpreter for the Excel conditional-formatting (CF) rule language of the CF benchmark,
so that a generated rule can be scored by *execution match*: run it on the item's data table
and compare the rows it formats with the rows the reference rule formats.

The language
------------
A rule is one function call; names are case-insensitive and have aliases (see ``FUNCTIONS``)::

    GreaterThan(25)                    AND(GreaterThanEqual(25),LessThan(50))
    Between(689, 927)                  NOT(TextContains(適))
    TextEquals(In Progress)            TextContains(c[1], 'L compatible')
    top(10)   bottom(10%)              TopPercent(c[1], 20)
    Duplicate()   Blanks()   Errors()  aboveAverage()   ColorScale()
    GreaterThan(LEN(c[0]), 6)          GreaterThan(c[2], c[1])   LastMonth(c[0])

* ``AND`` / ``OR`` (one or more rules) and ``NOT`` (one rule) combine rules.
* Every other function tests cells. Its first argument may name the *subject* column the rule
  tests, ``c[k]`` (0-based position in the table's header) or ``LEN(c[k])``; without one the
  rule tests the default column: the one headed "Value", else the last column.
* The remaining arguments are parameters: numbers (``-5251.47``, ``1E-5``, ``10%``), quoted
  strings (``'ster'``, ``"Worldwide"``, Excel's doubled quote ``""`` escapes), column refs
  (compared row by row), ``LEN(...)``, or bare text. A lone bare-text parameter is taken verbatim,
  spaces, commas and brackets included — the snippets are full of ``TextEquals( )``,
  ``TextContains(Non-pooled, en)``, ``TextEquals(TRAFFIC SIGNALS (Multi-Way))`` and even the
  unbalanced ``TextContains(Yes-adhoc(if needed)``. Absolute cell refs (``$B$6``) can't be
  resolved against one table, so like any other bare text they are literal text.

Semantics (Excel's, except where noted)
---------------------------------------
* Cells are coerced as Excel does when typing: numeric text (``"144.69999999999999"``,
  ``"$21.00"``, ``"1,234"``, ``"39.64%"``) is a number, ``""`` is blank, ``TRUE``/``FALSE`` are
  logicals, ``#DIV/0!``-style codes (and the data's ``#ERR``) are errors, and date text
  (``2022-11-15``, day-first ``20/8/2021``, month-first only when day-first is impossible) is a
  date serial number.
* Comparisons (``GreaterThan`` ... ``Between``) follow Excel: a blank compares as 0 (or ""),
  text compares case-insensitively, and a number < any text < any logical; an error cell never
  matches. ``Between`` accepts its bounds in either order.
* Text rules are case-insensitive on the cell's text (numbers in Excel's 15-digit form).
  Deliberate deviation: ``*``/``?`` are literal, not SEARCH wildcards — the snippets use them
  literally (``TextContains(*)``) and so do the benchmark's labels.
* ``Blanks`` is Excel's ``LEN(TRIM(cell))=0``; ``Errors`` is ``ISERROR``.
* ``Duplicate`` / ``Unique``: non-blank values seen more than once / exactly once in the subject
  column, case-insensitive; blanks are never formatted.
* ``AboveAverage`` etc.: numeric cells against the mean of the numeric cells (strict; the
  ``...OrEqual`` aliases include the mean). An error anywhere makes Excel's AVERAGE fail, so
  nothing is formatted.
* ``Top``/``Bottom(k)``: numeric cells >= the k-th largest (<= the k-th smallest) value, so every
  cell tied with the k-th is included and more than k may be formatted; k larger than the count
  formats all. ``k%`` (or ``TopPercent``) means k = floor(count * pct / 100), at least 1, where
  count is the number of numeric cells (Excel rounds down). A missing k means 1
  (``Bottom(c[1])`` = "the lowest").
* ``ColorScale`` / ``DataBar`` / ``IconSet`` draw on every numeric cell, so they select exactly
  the numeric cells (not text, blanks, logicals or errors).
* Date rules (``Yesterday``, ``Today``, ``Tomorrow``, ``Last7Days``, ``LastWeek``, ``ThisWeek``,
  ``NextWeek``, ``LastMonth``, ``ThisMonth``, ``NextMonth``; weeks run Sunday to Saturday as in
  Excel) are evaluated against a ``today`` argument, by default ``DEFAULT_TODAY`` (2023-01-15: a
  fixed date, so scores are reproducible, shortly after the latest date in the benchmark's
  tables, 2023-01-03).
* Rows are numbered by position among the data rows (0 = the first row after the header), not
  by the "Index" column: that column has gaps in a quarter of the train tables and is absent from
  the test tables, while the benchmark's Labels are aligned by position.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import Enum
from typing import Any, Callable, Sequence, Union

DEFAULT_TODAY = date(2023, 1, 15)
_EXCEL_EPOCH = date(1899, 12, 30)  # serial 0, so that serials after Feb 1900 match Excel's


class CFRuleSyntaxError(ValueError):
    """The text is not a rule of the language (bad syntax, unknown function, wrong arguments)."""


class CFRuleEvalError(ValueError):
    """A well-formed rule that can't run on this table (e.g. ``c[7]`` on a 2-column table)."""


# --------------------------------------------------------------------------------------- AST


@dataclass(frozen=True)
class Number:
    value: float
    source: str  # as written, for text rules: TextEquals(165) looks for the text "165"
    percent: bool = False


@dataclass(frozen=True)
class Text:
    value: str


@dataclass(frozen=True)
class ColumnRef:
    index: int


@dataclass(frozen=True)
class Call:
    """A function applied to arguments: a rule (``GreaterThan(5)``) or a value (``LEN(c[0])``)."""

    name: str  # canonical name, a key of FUNCTIONS
    args: tuple[Any, ...]  # Operands for cell/value functions, Calls for AND/OR/NOT


Operand = Union[Number, Text, ColumnRef, Call]
Rule = Call


# ----------------------------------------------------------------------------------- cells


@dataclass(frozen=True)
class ExcelError:
    code: str


@dataclass(frozen=True)
class Cell:
    """A coerced cell: value is None (blank), float, str, bool or ExcelError; text is what
    Excel's text functions see."""

    value: float | str | bool | ExcelError | None
    text: str

    @property
    def is_number(self) -> bool:
        return isinstance(self.value, float)

    @property
    def is_error(self) -> bool:
        return isinstance(self.value, ExcelError)


BLANK = Cell(None, "")
_ERROR_CODES = {"#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!", "#SPILL!",
                "#CALC!", "#GETTING_DATA", "#ERR"}
_NUMBER_TEXT = re.compile(  # -1,234.5 $21.00 1E-5 39.64%
    r"[+-]?[$£€¥]?(?:\d{1,3}(?:,\d{3})+|\d*)(?:\.\d*)?(?:[eE][+-]?\d+)?%?")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")
_DMY_DATE = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})")


def number_text(x: float) -> str:
    """A number as Excel's text functions see it: at most 15 significant digits."""
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.15g}".replace("e", "E")  # 1E-05, 1.5E+20


def _number(x: float) -> Cell:
    x = float(x)
    return Cell(x, number_text(x)) if math.isfinite(x) else Cell(ExcelError("#NUM!"), "#NUM!")


def _parse_number(s: str) -> float | None:
    if not _NUMBER_TEXT.fullmatch(s) or not any(ch.isdigit() for ch in s):
        return None
    percent = s.endswith("%")
    core = re.sub(r"[$£€¥,%]", "", s)
    try:
        x = float(core)
    except ValueError:
        return None
    return x / 100 if percent else x


def _serial(y: int, m: int, d: int) -> float | None:
    try:
        return float((date(y, m, d) - _EXCEL_EPOCH).days)
    except ValueError:
        return None


def _parse_date(s: str) -> float | None:
    if m := _ISO_DATE.fullmatch(s):
        return _serial(int(m[1]), int(m[2]), int(m[3]))
    if m := _DMY_DATE.fullmatch(s):
        a, b, y = int(m[1]), int(m[2]), int(m[3])
        if len(m[3]) == 2:
            y += 2000 if y < 30 else 1900  # Excel's two-digit-year window
        # day-first, as the benchmark's tables are written; month-first only if that's impossible
        return _serial(y, b, a) if _serial(y, b, a) is not None else _serial(y, a, b)
    return None


def coerce_cell(raw: object) -> Cell:
    """A value from the Data table as Excel would hold it once typed into a cell."""
    if raw is None:
        return BLANK
    if isinstance(raw, bool):
        return Cell(raw, "TRUE" if raw else "FALSE")
    if isinstance(raw, (int, float)):
        return _number(raw)
    s = str(raw)
    t = s.strip()
    if s == "":
        return BLANK
    if t.upper() in _ERROR_CODES:
        return Cell(ExcelError(t.upper()), t.upper())
    if t.upper() in ("TRUE", "FALSE"):
        return Cell(t.upper() == "TRUE", t.upper())
    if (x := _parse_number(t)) is not None or (x := _parse_date(t)) is not None:
        return _number(x)
    return Cell(s, s)


# ------------------------------------------------------------------------------------ table


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]

    @classmethod
    def from_data(cls, data: Sequence[Sequence[object]]) -> "Table":
        """``data`` is the benchmark's Data: a header row, then the data rows."""
        if not data:
            raise CFRuleEvalError("the table has no header row")
        header = tuple(str(h) for h in data[0])
        width = max([len(header), *(len(r) for r in data[1:])])
        rows = tuple(tuple(coerce_cell(r[i]) if i < len(r) else BLANK for i in range(width))
                     for r in data[1:])
        return cls(header + ("",) * (width - len(header)), rows)

    @property
    def default_column(self) -> int:
        names = [h.strip().casefold() for h in self.header]
        if "value" in names:
            return names.index("value")
        if not self.header:
            raise CFRuleEvalError("the table has no columns")
        return len(self.header) - 1

    def column(self, k: int) -> list[Cell]:
        if not 0 <= k < len(self.header):
            raise CFRuleEvalError(f"c[{k}] is outside the table's {len(self.header)} columns")
        return [row[k] for row in self.rows]


# ------------------------------------------------------------------------ Excel comparisons


def _rank(cell: Cell) -> tuple[int, Any]:
    v = cell.value
    if isinstance(v, bool):
        return 2, v
    if isinstance(v, str):
        return 1, v.casefold()
    return 0, v


def excel_compare(a: Cell, b: Cell) -> int | None:
    """-1/0/1 as Excel orders a and b (number < text < logical, text case-insensitive), None if
    either is an error. A blank takes the type of the other side: 0, "" or FALSE."""
    if a.is_error or b.is_error:
        return None
    if a.value is None:
        a = _blank_as(b)
    if b.value is None:
        b = _blank_as(a)
    ra, rb = _rank(a), _rank(b)
    return (ra > rb) - (ra < rb)


def _blank_as(other: Cell) -> Cell:
    if isinstance(other.value, bool):
        return Cell(False, "FALSE")
    if isinstance(other.value, str):
        return Cell("", "")
    return Cell(0.0, "0")


def _compare_with(test: Callable[[int], bool]) -> Callable[[Cell, Cell], bool]:
    def predicate(cell: Cell, operand: Cell) -> bool:
        c = excel_compare(cell, operand)
        return c is not None and test(c)
    return predicate


def _between(cell: Cell, low: Cell, high: Cell) -> bool:
    if (c := excel_compare(low, high)) is not None and c > 0:
        low, high = high, low  # Excel accepts the bounds in either order
    lo, hi = excel_compare(cell, low), excel_compare(cell, high)
    return lo is not None and hi is not None and lo >= 0 and hi <= 0


def _not_between(cell: Cell, low: Cell, high: Cell) -> bool:
    return not cell.is_error and not _between(cell, low, high)


# ------------------------------------------------------------------------------ text rules


def _text_equals(cell: Cell, text: str) -> bool:
    if cell.is_error:
        return False
    x = _parse_number(text.strip())
    if cell.is_number and x is not None:
        return cell.value == x  # TextEquals(165) matches 165.0 as well as "165"
    return cell.text.casefold() == text.casefold()


def _text_rule(test: Callable[[str, str], bool]) -> Callable[[Cell, str], bool]:
    def predicate(cell: Cell, text: str) -> bool:
        return not cell.is_error and test(cell.text.casefold(), text.casefold())
    return predicate


def _not_contains(cell: Cell, text: str) -> bool:
    return cell.is_error or text.casefold() not in cell.text.casefold()  # ISERROR(SEARCH(..))


def _is_blank(cell: Cell) -> bool:
    return cell.value is None or (isinstance(cell.value, str) and not cell.value.strip())


# ---------------------------------------------------------------- rules over a whole column


def _numbers(cells: Sequence[Cell]) -> list[float]:
    return [c.value for c in cells if c.is_number]  # type: ignore[misc]


def _count_k(params: Sequence[Operand], n: int, percent: bool) -> int:
    k = params[0] if params else Number(1.0, "1")
    assert isinstance(k, Number)  # checked when parsing
    if percent or k.percent:
        return max(1, math.floor(n * k.value / 100 + 1e-9))  # Excel rounds down, at least one
    return int(k.value)


def _top_bottom(largest: bool, percent: bool = False):
    def rule(cells: Sequence[Cell], params: Sequence[Operand]) -> list[bool]:
        values = sorted(_numbers(cells), reverse=largest)
        if not values:
            return [False] * len(cells)
        k = _count_k(params, len(values), percent)
        edge = values[min(k, len(values)) - 1]  # every value tied with the k-th is in
        return [c.is_number and (c.value >= edge if largest else c.value <= edge) for c in cells]
    return rule


def _average(test: Callable[[float, float], bool]):
    def rule(cells: Sequence[Cell], params: Sequence[Operand]) -> list[bool]:
        values = _numbers(cells)
        if not values or any(c.is_error for c in cells):
            return [False] * len(cells)
        mean = math.fsum(values) / len(values)
        return [c.is_number and test(c.value, mean) for c in cells]
    return rule


def _value_key(cell: Cell) -> tuple[int, Any]:
    return _rank(cell) if not cell.is_error else (3, cell.value)


def _occurrences(test: Callable[[int], bool]):
    def rule(cells: Sequence[Cell], params: Sequence[Operand]) -> list[bool]:
        counts: dict[tuple[int, Any], int] = {}
        for c in cells:
            if not _is_blank(c):
                counts[_value_key(c)] = counts.get(_value_key(c), 0) + 1
        return [not _is_blank(c) and test(counts[_value_key(c)]) for c in cells]
    return rule


def _is_number(cell: Cell) -> bool:
    return cell.is_number


# ------------------------------------------------------------------------------ date rules


def _date_range(period: str, today: date) -> tuple[date, date]:
    """The inclusive dates of an Excel time period."""
    sunday = today - timedelta(days=(today.weekday() + 1) % 7)
    first = today.replace(day=1)
    prev_first = (first - timedelta(days=1)).replace(day=1)
    next_first = (first + timedelta(days=32)).replace(day=1)
    after_next = (next_first + timedelta(days=32)).replace(day=1)
    return {
        "Yesterday": (today - timedelta(1), today - timedelta(1)),
        "Today": (today, today),
        "Tomorrow": (today + timedelta(1), today + timedelta(1)),
        "Last7Days": (today - timedelta(6), today),
        "LastWeek": (sunday - timedelta(7), sunday - timedelta(1)),
        "ThisWeek": (sunday, sunday + timedelta(6)),
        "NextWeek": (sunday + timedelta(7), sunday + timedelta(13)),
        "LastMonth": (prev_first, first - timedelta(1)),
        "ThisMonth": (first, next_first - timedelta(1)),
        "NextMonth": (next_first, after_next - timedelta(1)),
    }[period]


def _cell_date(cell: Cell) -> date | None:
    if not cell.is_number:
        return None
    try:
        return _EXCEL_EPOCH + timedelta(days=math.floor(cell.value))  # type: ignore[arg-type]
    except OverflowError:
        return None


# --------------------------------------------------------------------- the function table


class Kind(Enum):
    LOGIC = "logic"  # AND/OR/NOT over rules
    CELL = "cell"  # a test of one cell, against parameter cells of the same row if any
    TEXT = "text"  # a test of one cell against a text parameter
    COLUMN = "column"  # a test needing the whole subject column
    DATE = "date"  # a time-period test, relative to `today`
    VALUE = "value"  # a value function, usable as an operand: LEN(c[0])


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    kind: Kind
    min_args: int  # parameters, not counting a leading subject column
    max_args: int | None
    impl: Callable[..., Any] | None = None
    aliases: tuple[str, ...] = ()
    count_param: bool = False  # the parameter is a count k (or k%)


def _spec(name: str, kind: Kind, arity: tuple[int, int | None], impl=None, *aliases: str,
          count_param: bool = False) -> FunctionSpec:
    return FunctionSpec(name, kind, arity[0], arity[1], impl, aliases, count_param)


_ONE, _TWO, _NONE, _ANY = (1, 1), (2, 2), (0, 0), (1, None)
SPECS: tuple[FunctionSpec, ...] = (
    _spec("AND", Kind.LOGIC, _ANY),
    _spec("OR", Kind.LOGIC, _ANY),
    _spec("NOT", Kind.LOGIC, _ONE),
    _spec("GreaterThan", Kind.CELL, _ONE, _compare_with(lambda c: c > 0)),
    _spec("GreaterThanEqual", Kind.CELL, _ONE, _compare_with(lambda c: c >= 0),
          "GreaterThanEquals", "GreaterThanOrEqual", "GreaterThanOrEqualTo", "GreaterOrEqual"),
    _spec("LessThan", Kind.CELL, _ONE, _compare_with(lambda c: c < 0)),
    _spec("LessThanEqual", Kind.CELL, _ONE, _compare_with(lambda c: c <= 0),
          "LessThanEquals", "LessThanOrEqual", "LessThanOrEqualTo", "LessOrEqual"),
    _spec("Equals", Kind.CELL, _ONE, _compare_with(lambda c: c == 0), "Equal", "EqualTo"),
    _spec("NotEquals", Kind.CELL, _ONE, _compare_with(lambda c: c != 0), "NotEqual",
          "NotEqualTo"),
    _spec("Between", Kind.CELL, _TWO, _between),
    _spec("NotBetween", Kind.CELL, _TWO, _not_between),
    _spec("TextEquals", Kind.TEXT, _ONE, _text_equals, "TextEqual"),
    _spec("TextContains", Kind.TEXT, _ONE, _text_rule(lambda cell, t: t in cell), "Contains",
          "ContainsText"),
    _spec("TextNotContains", Kind.TEXT, _ONE, _not_contains, "NotContains", "TextDoesNotContain",
          "DoesNotContain", "NotContainsText"),
    _spec("TextStartsWith", Kind.TEXT, _ONE, _text_rule(str.startswith), "StartsWith",
          "BeginsWith", "TextBeginsWith"),
    _spec("TextEndsWith", Kind.TEXT, _ONE, _text_rule(str.endswith), "EndsWith"),
    _spec("Blanks", Kind.CELL, _NONE, _is_blank, "Blank", "IsBlank", "ContainsBlanks"),
    _spec("NoBlanks", Kind.CELL, _NONE, lambda c: not _is_blank(c), "NotBlanks", "NonBlanks",
          "NotBlank", "ContainsNoBlanks"),
    _spec("Errors", Kind.CELL, _NONE, lambda c: c.is_error, "Error", "IsError",
          "ContainsErrors"),
    _spec("NoErrors", Kind.CELL, _NONE, lambda c: not c.is_error, "NotErrors",
          "ContainsNoErrors"),
    _spec("Duplicate", Kind.COLUMN, _NONE, _occurrences(lambda n: n > 1), "Duplicates",
          "DuplicateValues"),
    _spec("Unique", Kind.COLUMN, _NONE, _occurrences(lambda n: n == 1), "Uniques",
          "UniqueValues"),
    _spec("AboveAverage", Kind.COLUMN, _NONE, _average(lambda x, m: x > m)),
    _spec("BelowAverage", Kind.COLUMN, _NONE, _average(lambda x, m: x < m)),
    _spec("AboveOrEqualAverage", Kind.COLUMN, _NONE, _average(lambda x, m: x >= m),
          "EqualOrAboveAverage", "AboveAverageOrEqual"),
    _spec("BelowOrEqualAverage", Kind.COLUMN, _NONE, _average(lambda x, m: x <= m),
          "EqualOrBelowAverage", "BelowAverageOrEqual"),
    _spec("Top", Kind.COLUMN, (0, 1), _top_bottom(largest=True), "TopItems", count_param=True),
    _spec("Bottom", Kind.COLUMN, (0, 1), _top_bottom(largest=False), "BottomItems",
          count_param=True),
    _spec("TopPercent", Kind.COLUMN, _ONE, _top_bottom(largest=True, percent=True),
          count_param=True),
    _spec("BottomPercent", Kind.COLUMN, _ONE, _top_bottom(largest=False, percent=True),
          count_param=True),
    # visual formats draw on every number in their range, and on nothing else
    _spec("ColorScale", Kind.CELL, _NONE, _is_number, "ColourScale"),
    _spec("DataBar", Kind.CELL, _NONE, _is_number, "DataBars"),
    _spec("IconSet", Kind.CELL, _NONE, _is_number, "IconSets"),
    *(_spec(p, Kind.DATE, _NONE) for p in ("Yesterday", "Today", "Tomorrow", "Last7Days",
                                           "LastWeek", "ThisWeek", "NextWeek", "LastMonth",
                                           "ThisMonth", "NextMonth")),
    _spec("LEN", Kind.VALUE, _ONE, lambda cell: _number(len(cell.text)), "Length"),
)
FUNCTIONS: dict[str, FunctionSpec] = {s.name: s for s in SPECS}
_BY_ALIAS: dict[str, FunctionSpec] = {a.casefold(): s for s in SPECS for a in (s.name, *s.aliases)}


def lookup(name: str) -> FunctionSpec | None:
    """The function a (case-insensitive) name or alias denotes."""
    return _BY_ALIAS.get(name.casefold())


# -------------------------------------------------------------------------------- tokenizer


@dataclass(frozen=True)
class Token:
    kind: str  # NAME NUMBER STRING COLREF LPAREN RPAREN COMMA PERCENT OTHER END
    text: str
    start: int
    end: int


_TOKEN_RE = re.compile(r"""
    (?P<COLREF>c\[\s*\d+\s*\])
  | (?P<NUMBER>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<NAME>[^\W\d]\w*)
  | (?P<STRING>"(?:[^"]|"")*"|'(?:[^']|'')*')
  | (?P<LPAREN>\() | (?P<RPAREN>\)) | (?P<COMMA>,) | (?P<PERCENT>%)
  | (?P<OTHER>\S)
""", re.VERBOSE | re.IGNORECASE)


def tokenize(code: str) -> list[Token]:
    """Tokens with their source offsets; total on any input (stray characters are OTHER), so
    that bare text can always be recovered as a slice of the source."""
    tokens, pos = [], 0
    while True:
        while pos < len(code) and code[pos].isspace():
            pos += 1
        if pos == len(code):
            return tokens + [Token("END", "", pos, pos)]
        m = _TOKEN_RE.match(code, pos)
        assert m and m.lastgroup  # OTHER matches any non-space character
        tokens.append(Token(m.lastgroup, m.group(), pos, m.end()))
        pos = m.end()


# ----------------------------------------------------------------------------------- parser


class _Parser:
    """Recursive descent over the tokens. Rule calls parse as ``NAME ( args )``; the arguments
    of a cell function are split at top-level commas, each piece either a structured operand or
    bare text, and a lone piece that is not a structured operand is taken verbatim."""

    def __init__(self, code: str):
        self.code = code
        self.tokens = tokenize(code)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def fail(self, message: str, tok: Token | None = None) -> CFRuleSyntaxError:
        at = (tok or self.tok).start
        return CFRuleSyntaxError(f"{message} at offset {at} in {self.code!r}")

    def expect(self, kind: str, what: str) -> Token:
        if self.tok.kind != kind:
            found = repr(self.tok.text) if self.tok.kind != "END" else "the end"
            raise self.fail(f"expected {what}, found {found}")
        self.i += 1
        return self.tokens[self.i - 1]

    def parse(self) -> Rule:
        if self.tok.kind == "END":
            raise self.fail("empty rule")
        rule = self.rule()
        self.expect("END", "the end of the rule")
        return rule

    def rule(self) -> Rule:
        name = self.expect("NAME", "a function name such as GreaterThan")
        spec = lookup(name.text)
        if spec is None:
            raise self.fail(f"unknown function {name.text!r}", name)
        if spec.kind is Kind.VALUE:
            raise self.fail(f"{spec.name} computes a value and is not a rule", name)
        self.expect("LPAREN", f"'(' after {name.text}")
        if spec.kind is Kind.LOGIC:
            args: tuple[Any, ...] = self.rule_list()
        else:
            args = self.operand_list(spec)
        self.check_arity(spec, args, name)
        return Call(spec.name, args)

    def rule_list(self) -> tuple[Rule, ...]:
        rules: list[Rule] = []
        if self.tok.kind != "RPAREN":
            rules.append(self.rule())
            while self.tok.kind == "COMMA":
                self.i += 1
                rules.append(self.rule())
        self.expect("RPAREN", "',' or ')'")
        return tuple(rules)

    # -- cell-function arguments

    def operand_list(self, spec: FunctionSpec) -> tuple[Operand, ...]:
        open_tok = self.tokens[self.i - 1]
        close = self.closing_paren(self.i)
        pieces = self.split_commas(self.i, close)
        structured = [self.structured(a, b) for a, b in pieces]
        args = tuple(s if s is not None else self.bare_text(a, b)
                     for s, (a, b) in zip(structured, pieces))
        bare = None in structured
        verbatim = self.code[open_tok.end:self.tokens[close].start]
        # Bare text is taken verbatim when it is the only argument, or when splitting it at
        # commas gave a wrong count (TextContains(Non-pooled, en)); so is a blank argument
        # where one is needed (TextEquals( ) looks for a space).
        wrong_count = not self.arity_ok(spec, args)
        if verbatim and ((bare and (len(args) == 1 or wrong_count)) or (not args and wrong_count)):
            args = (Text(verbatim),)
        self.i = close + 1
        return args

    def closing_paren(self, i: int) -> int:
        """The index of the ')' closing the call whose arguments start at token i: the balanced
        one, or, when the arguments hold an unmatched '(' (``TextContains(Yes-adhoc(if
        needed)``), the first ')'."""
        depth, first = 0, None
        for j in range(i, len(self.tokens)):
            kind = self.tokens[j].kind
            if kind == "RPAREN":
                first = j if first is None else first
                if depth == 0:
                    return j
                depth -= 1
            elif kind == "LPAREN":
                depth += 1
        if first is None:
            raise self.fail("missing ')'", self.tokens[-1])
        return first

    def split_commas(self, start: int, stop: int) -> list[tuple[int, int]]:
        if start == stop:
            return []
        pieces, depth, a = [], 0, start
        for j in range(start, stop):
            kind = self.tokens[j].kind
            depth += (kind == "LPAREN") - (kind == "RPAREN")
            if kind == "COMMA" and depth == 0:
                pieces.append((a, j))
                a = j + 1
        return pieces + [(a, stop)]

    def bare_text(self, a: int, b: int) -> Text:
        """Tokens a..b-1 as the source text they span (TextEquals(c[6], No) -> "No")."""
        return Text(self.code[self.tokens[a].start:self.tokens[b - 1].end] if a < b else "")

    def structured(self, a: int, b: int) -> Operand | None:
        """Tokens a..b-1 as a column ref, number, k%, quoted string or LEN(...), else None."""
        toks = self.tokens[a:b]
        kinds = [t.kind for t in toks]
        if kinds == ["COLREF"]:
            return ColumnRef(int(re.sub(r"\D", "", toks[0].text)))
        if kinds == ["NUMBER"]:
            return Number(float(toks[0].text), toks[0].text)
        if kinds == ["NUMBER", "PERCENT"]:
            return Number(float(toks[0].text), toks[0].text + "%", percent=True)
        if kinds == ["STRING"]:
            return Text(_unquote(toks[0].text))
        if len(kinds) >= 3 and kinds[:2] == ["NAME", "LPAREN"] and kinds[-1] == "RPAREN":
            spec = lookup(toks[0].text)
            if spec is not None and spec.kind is Kind.VALUE:
                inner = [self.structured(x, y) for x, y in self.split_commas(a + 2, b - 1)]
                if all(arg is not None for arg in inner):
                    self.check_arity(spec, tuple(inner), toks[0])
                    return Call(spec.name, tuple(inner))  # type: ignore[arg-type]
        return None

    # -- arity and parameter checks

    def arity_ok(self, spec: FunctionSpec, args: Sequence[Any]) -> bool:
        try:
            self.check_arity(spec, args, self.tok)
        except CFRuleSyntaxError:
            return False
        return True

    def check_arity(self, spec: FunctionSpec, args: Sequence[Any], at: Token) -> None:
        params = args if spec.kind in (Kind.LOGIC, Kind.VALUE) else split_subject(args)[1]
        n, lo, hi = len(params), spec.min_args, spec.max_args
        if n < lo or (hi is not None and n > hi):
            want = f"{lo}" if lo == hi else f"{lo} to {hi}" if hi is not None else f"{lo} or more"
            raise self.fail(f"{spec.name} takes {want} argument(s), got {n}", at)
        if spec.count_param and params:
            k = params[0]
            if not (isinstance(k, Number) and k.value > 0 and (k.percent or k.value.is_integer())):
                raise self.fail(f"{spec.name} needs a positive whole count or a percentage", at)


def split_subject(args: Sequence[Any]) -> tuple[Operand | None, tuple[Operand, ...]]:
    """A cell function's arguments as (subject, parameters): a leading argument that refers to
    a column (c[1], LEN(c[0])) is the subject the rule tests; None means the default column."""
    if args and _mentions_column(args[0]):
        return args[0], tuple(args[1:])
    return None, tuple(args)


def _mentions_column(operand: Any) -> bool:
    if isinstance(operand, ColumnRef):
        return True
    return isinstance(operand, Call) and any(_mentions_column(a) for a in operand.args)


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        q = text[0]
        inner = text[1:-1]
        if q not in inner.replace(q * 2, ""):
            return inner.replace(q * 2, q)
    return text


def parse_rule(code: str) -> Rule:
    """Parse a rule to its AST; raises CFRuleSyntaxError saying what is wrong and where."""
    if not isinstance(code, str):
        raise CFRuleSyntaxError(f"a rule is text, not {type(code).__name__}")
    return _Parser(code.strip()).parse()


def first_rule(code: str) -> str:
    """The text up to where its first call's parentheses close: a rule is one expression, so
    what a sampler writes after it ("GreaterThan(85)))") cannot belong to it. Text whose
    parentheses never close, or that has none, is returned as it is."""
    depth = 0
    for tok in tokenize(code):
        if tok.kind == "LPAREN":
            depth += 1
        elif tok.kind == "RPAREN":
            depth -= 1
            if depth <= 0:
                return code[: tok.end if depth == 0 else tok.start].rstrip()
    return code


def cf_is_valid(code: str) -> bool:
    """Does the text parse, calling only known functions with a valid number of arguments?"""
    try:
        parse_rule(code)
    except CFRuleSyntaxError:
        return False
    return True


# -------------------------------------------------------------------------------- evaluator


class _Evaluator:
    def __init__(self, table: Table, today: date):
        self.table = table
        self.today = today
        self.n = len(table.rows)

    def rule(self, rule: Rule) -> list[bool]:
        spec = FUNCTIONS[rule.name]
        if spec.kind is Kind.LOGIC:
            masks = [self.rule(r) for r in rule.args]
            combine = {"AND": all, "OR": any, "NOT": lambda xs: not xs[0]}[spec.name]
            return [combine([m[i] for m in masks]) for i in range(self.n)]
        subject_arg, params = split_subject(rule.args)
        subject = (self.operand(subject_arg) if subject_arg is not None
                   else self.table.column(self.table.default_column))
        if spec.kind is Kind.COLUMN:
            return spec.impl(subject, params)  # type: ignore[misc]
        if spec.kind is Kind.DATE:
            first, last = _date_range(spec.name, self.today)
            return [(d := _cell_date(c)) is not None and first <= d <= last for c in subject]
        columns = [self.operand(p) for p in params]
        if spec.kind is Kind.TEXT:
            texts = [[_operand_text(p, cell) for cell in col] for p, col in zip(params, columns)]
            return [spec.impl(subject[i], *(t[i] for t in texts)) for i in range(self.n)]
        return [spec.impl(subject[i], *(col[i] for col in columns)) for i in range(self.n)]

    def operand(self, operand: Operand) -> list[Cell]:
        """The operand's cell in each row."""
        if isinstance(operand, ColumnRef):
            return self.table.column(operand.index)
        if isinstance(operand, Number):
            value = operand.value / 100 if operand.percent else operand.value
            return [_number(value)] * self.n
        if isinstance(operand, Text):
            return [_text_operand(operand.value)] * self.n
        spec = FUNCTIONS[operand.name]
        (inner,) = [self.operand(a) for a in operand.args]
        return [spec.impl(c) for c in inner]  # type: ignore[misc]


def _text_operand(text: str) -> Cell:
    """A literal parameter, coerced as if typed into a cell (GreaterThan("5") means 5, a date
    means its serial); but "" stays empty text, as Excel's ="" does."""
    return coerce_cell(text) if text else Cell("", "")


def _operand_text(operand: Operand, cell: Cell) -> str:
    """What a text rule looks for: a literal as written (TextEquals(0.50) -> "0.50")."""
    if isinstance(operand, Number):
        return operand.source
    if isinstance(operand, Text):
        return operand.value
    return cell.text


def evaluate(rule: Rule, data: Sequence[Sequence[object]] | Table,
             today: date = DEFAULT_TODAY) -> list[bool]:
    """Whether the rule formats each data row; raises CFRuleEvalError if it can't run."""
    table = data if isinstance(data, Table) else Table.from_data(data)
    return _Evaluator(table, today).rule(rule)


def select_rows(code: str | Rule, data: Sequence[Sequence[object]] | Table,
                today: date = DEFAULT_TODAY) -> frozenset[int] | None:
    """Positions (0 = first row after the header) of the rows the rule formats, or None if the
    rule doesn't parse or can't run on this table."""
    try:
        rule = parse_rule(code) if isinstance(code, str) else code
        mask = evaluate(rule, data, today)
    except (CFRuleSyntaxError, CFRuleEvalError):
        return None
    return frozenset(i for i, hit in enumerate(mask) if hit)


def execution_match(candidate: str, reference: str, data: Sequence[Sequence[object]] | Table,
                    today: date = DEFAULT_TODAY) -> bool:
    """Both rules run on the table and format the same rows. False when either does not run
    (a reference that can't run can't be matched by execution: see cf_execution_applies)."""
    table = data if isinstance(data, Table) else _table_or_none(data)
    if table is None:
        return False
    expected = select_rows(reference, table, today)
    return expected is not None and select_rows(candidate, table, today) == expected


def _table_or_none(data: Sequence[Sequence[object]]) -> Table | None:
    try:
        return Table.from_data(data)
    except CFRuleEvalError:
        return None


# ---------------------------------------------------------------------- benchmark helpers


def cf_data_is_real(item: dict) -> bool:
    """Does a benchmark item carry a real table (a header and at least one row)? Half the test
    items only carry a header such as ["Index", "Value"]; those can only be scored by exact
    match."""
    data = item.get("Data")
    return isinstance(data, list) and len(data) >= 2 and all(isinstance(r, list) for r in data)


def cf_execution_applies(item: dict, today: date = DEFAULT_TODAY) -> bool:
    """Can the item be scored by execution match: a real table on which the reference runs?"""
    return cf_data_is_real(item) and select_rows(item.get("Code", ""), item["Data"], today) \
        is not None


def cf_label_rows(item: dict) -> frozenset[int] | None:
    """The rows the item's Labels mark, or None where the Labels are not a real annotation.
    Labels hold one 0/1 flag per Data row, header included (its flag is 0), so flag i+1 is
    data row i; the test split, and train items without a table, carry the placeholder [0]."""
    labels, data = item.get("Labels"), item.get("Data")
    if not cf_data_is_real(item) or not isinstance(labels, list) or len(labels) != len(data):
        return None
    return frozenset(i for i, flag in enumerate(labels[1:]) if flag)


__all__ = [
    "CFRuleEvalError", "CFRuleSyntaxError", "Call", "Cell", "ColumnRef", "DEFAULT_TODAY",
    "FUNCTIONS", "FunctionSpec", "Kind", "Number", "Rule", "Table", "Text", "cf_data_is_real",
    "cf_execution_applies", "cf_is_valid", "cf_label_rows", "coerce_cell", "evaluate",
    "excel_compare", "execution_match", "lookup", "parse_rule", "select_rows", "split_subject",
    "tokenize",
]
