"""Reader and writer for the Bayesian Interchange Format (BIF).

The grammar follows the interchange-format proposal (Cozman; Hulten and Domingos)
as used by the bnlearn repository and pgmpy::

    network NAME { property ...; }
    variable X { type discrete [ 2 ] { a, b }; property ...; }
    probability ( X | P1, P2 ) { (p1, p2) 0.1, 0.9; default 0.5, 0.5; }
    probability ( R ) { table 0.3, 0.7; }

Commas between list items are optional, as in the proposal, and ``probability ( X P1 P2 )``
(no ``|``) names the child first.  A ``table`` lists the child's state slowest and the last
parent fastest; ``default`` gives the probabilities of every parent configuration without a
row of its own.  A name is any run of characters other than whitespace, ``{}()[];,|"`` and
the comment markers ``//`` and ``/*``; it may be written in double quotes, but the quoted text
must itself be such a name.
"""

from __future__ import annotations

import gzip
import io
import itertools
import math
import os
import re
import zlib
from pathlib import Path

import numpy as np

from ..utils._limits import Budget, LimitError, read_capped
from ._bif_types import BifNetwork, BifSyntaxError

__all__ = [
    "NETWORK_PROPERTIES",
    "BifNetwork",
    "BifSyntaxError",
    "format_bif",
    "parse_bif",
    "read_bif",
    "write_bif",
]

#: Key of the network block's properties in :attr:`BifNetwork.properties`; it cannot clash
#: with a variable because braces are not allowed in names.
NETWORK_PROPERTIES = "{network}"

# Names are as liberal as the bnlearn files need ("Asy/Patch", "<5", ">=7.5", "12+"): anything
# but whitespace, the punctuation of the grammar, quotes and the start of a comment.
_NAME_PATTERN = r"""(?:[^\s{}()\[\];,|"/]|/(?![/*]))+"""
_NAME_RE = re.compile(_NAME_PATTERN)
# One token after skipped whitespace.  Comments are tokens too so that the lexer can skip
# them in a loop; only an unterminated "/*" or an unclosed '"' falls through to ``bad``.
_TOKEN_RE = re.compile(
    r"\s*(?:"
    + "|".join(
        [
            rf"(?P<word>{_NAME_PATTERN})",
            r'(?P<quoted>"[^"\n]*")',
            r"(?P<punct>[{}()\[\];,|])",
            r"(?P<comment>//[^\n]*|/\*.*?\*/)",
            r"(?P<end>\Z)",
            r"(?P<bad>.)",
        ]
    )
    + ")",
    re.DOTALL,
)
# Fast path for a list of probabilities: a run of number characters, commas and spaces up
# to ';'.  Anything it does not accept is re-read token by token for a precise error.
_NUMBER_RUN_RE = re.compile(r"[0-9eE.+\-,\s]*;")
_NUMBER_SEP_RE = re.compile(r"\s*,\s*|\s+")
_NUMBER_CHARS = frozenset("0123456789eE.+-")
_PROPERTY_RE = re.compile(r"[^;{}]*;")


class _Lexer:
    """Hands out one token at a time; the current token is ``kind``/``value``/``start``."""

    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        self.kind = ""
        self.value = ""
        self.start = 0
        self.end = 0
        self.advance()

    def line_column(self, pos: int) -> tuple[int, int]:
        return self.text.count("\n", 0, pos) + 1, pos - self.text.rfind("\n", 0, pos)

    def error(self, reason: str, pos: int | None = None) -> BifSyntaxError:
        line, column = self.line_column(self.start if pos is None else pos)
        return BifSyntaxError(self.source, line, column, reason)

    def location(self, pos: int) -> str:
        """``line:column`` of an earlier position, for messages that refer back to it."""
        return "{}:{}".format(*self.line_column(pos))

    def advance(self) -> None:
        pos = self.end
        while True:
            m = _TOKEN_RE.match(self.text, pos)
            # every alternative is a named group and ``end`` or ``bad`` always matches
            assert m is not None and m.lastgroup is not None
            kind = m.lastgroup
            if kind != "comment":
                break
            pos = m.end()
        self.kind = kind
        self.start = m.start(kind)
        self.end = m.end()
        token = m.group(kind)
        if kind == "bad":  # any other character belongs to a name
            if token == '"':
                raise self.error("unterminated quoted name (the closing '\"' must be on the same line)")
            raise self.error("unterminated comment '/*'")
        if kind == "quoted":
            token = token[1:-1]
            if not _NAME_RE.fullmatch(token):
                raise self.error(
                    f"quoted name {token!r} must be a non-empty name without spaces, commas, "
                    "brackets, braces, parentheses, '|', ';' or comment markers"
                )
        self.value = token

    def describe(self) -> str:
        if self.kind == "end":
            return "end of input"
        text = self.value if len(self.value) <= 40 else self.value[:37] + "..."
        return f"'\"{text}\"'" if self.kind == "quoted" else f"'{text}'"

    def is_word(self, word: str) -> bool:
        return self.kind == "word" and self.value == word

    def is_punct(self, char: str) -> bool:
        return self.kind == "punct" and self.value == char

    def is_name(self) -> bool:
        return self.kind in ("word", "quoted")

    def expect(self, char: str, context: str) -> None:
        if not self.is_punct(char):
            raise self.error(f"expected '{char}' {context}, found {self.describe()}")
        self.advance()

    def name(self, what: str) -> tuple[str, int]:
        if not self.is_name():
            raise self.error(f"expected {what}, found {self.describe()}")
        result = self.value, self.start
        self.advance()
        return result

    def names(self, what: str, close: str) -> list[tuple[str, int]]:
        """Names separated by optional commas, up to (not including) ``close``."""
        items = [self.name(what)]
        while not self.is_punct(close):
            if self.is_punct(","):
                self.advance()
            elif not self.is_name():
                raise self.error(f"expected ',' or '{close}' after {what}, found {self.describe()}")
            items.append(self.name(what))
        return items

    def property(self) -> str:
        """The raw text of a ``property ...;`` line; the current token is ``property``."""
        m = _PROPERTY_RE.match(self.text, self.end)
        if m is None:
            raise self.error("unterminated property: expected ';' before any '{', '}' or end of input")
        self.end = m.end()
        self.advance()
        return m.group()[:-1].strip()

    def numbers(self) -> list[float]:
        """A non-empty list of probabilities ending with ';' (consumed)."""
        m = _NUMBER_RUN_RE.match(self.text, self.start)
        if m is not None:
            parts = _NUMBER_SEP_RE.split(m.group()[:-1].strip())
            if all(parts):
                try:
                    values = list(map(float, parts))
                except ValueError:
                    pass
                else:
                    if min(values) >= 0.0 and max(values) < math.inf:
                        self.end = m.end()
                        self.advance()
                        return values
        return self._numbers_slowly()

    def _numbers_slowly(self) -> list[float]:
        values = []
        while True:
            token = self.value
            if self.kind != "word" or not _NUMBER_CHARS.issuperset(token):
                raise self.error(f"expected a probability, found {self.describe()}")
            try:
                value = float(token)
            except ValueError:
                raise self.error(f"malformed number {self.describe()}") from None
            if not math.isfinite(value):
                raise self.error(f"probability {self.describe()} is not finite")
            if value < 0.0:
                raise self.error(f"negative probability {self.describe()}")
            values.append(value)
            self.advance()
            if self.is_punct(";"):
                self.advance()
                return values
            if self.is_punct(","):
                self.advance()
            elif self.kind != "word":
                raise self.error(f"expected ',' or ';' after a probability, found {self.describe()}")


class _Parser:
    def __init__(self, text: str, source: str) -> None:
        self.lex = _Lexer(text, source)
        self.name = "unknown"
        self.states: dict[str, list[str]] = {}
        self.index: dict[str, dict[str, int]] = {}
        self.declared_at: dict[str, int] = {}
        self.parents: dict[str, list[str]] = {}
        self.values: dict[str, np.ndarray | _CptBuilder] = {}
        self.defined_at: dict[str, int] = {}
        self.properties: dict[str, list[str]] = {}
        self.budget = Budget(f"the BIF file {source}")

    def parse(self) -> BifNetwork:
        lex = self.lex
        if lex.is_word("network"):
            self.network()
        while lex.kind != "end":
            if lex.is_word("variable"):
                self.variable()
            elif lex.is_word("probability"):
                self.probability()
            elif lex.is_word("network"):
                raise lex.error("the 'network' block must come first and only once")
            else:
                raise lex.error(f"expected 'variable' or 'probability', found {lex.describe()}")
        if not self.states:
            raise lex.error("the text declares no variables")
        for var, pos in self.declared_at.items():
            if var not in self.values:
                raise lex.error(f"variable '{var}' has no probability block", pos)
        parents = {var: self.parents[var] for var in self.states}
        cycle = _find_cycle(parents)
        if cycle is not None:
            raise lex.error("the network has a cycle: " + " -> ".join(cycle), self.defined_at[cycle[-1]])
        return BifNetwork(
            name=self.name,
            states=self.states,
            parents=parents,
            values={
                var: v if isinstance(v := self.values[var], np.ndarray) else v.array() for var in self.states
            },
            properties=self.properties,
        )

    def network(self) -> None:
        lex = self.lex
        lex.advance()
        self.name, _ = lex.name("network name")
        lex.expect("{", "after the network name")
        props = []
        while not lex.is_punct("}"):
            if not lex.is_word("property"):
                raise lex.error(f"expected 'property' or '}}' in the network block, found {lex.describe()}")
            props.append(lex.property())
        lex.advance()
        if props:
            self.properties[NETWORK_PROPERTIES] = props

    def variable(self) -> None:
        lex = self.lex
        lex.advance()
        var, pos = lex.name("variable name")
        if var in self.states:
            first = lex.location(self.declared_at[var])
            raise lex.error(f"variable '{var}' is declared twice (first at {first})", pos)
        lex.expect("{", "after variable name")
        states: list[str] | None = None
        props = []
        while not lex.is_punct("}"):
            if lex.is_word("property"):
                props.append(lex.property())
            elif lex.is_word("type"):
                if states is not None:
                    raise lex.error(f"variable '{var}' has a second 'type' declaration")
                states = self.type_declaration(var)
            else:
                raise lex.error(
                    f"expected 'type', 'property' or '}}' in variable '{var}', found {lex.describe()}"
                )
        if states is None:
            raise lex.error(f"variable '{var}' has no 'type discrete [ n ] {{ ... }};' declaration")
        lex.advance()
        self.states[var] = states
        self.index[var] = {s: i for i, s in enumerate(states)}
        self.declared_at[var] = pos
        if props:
            self.properties[var] = props

    def type_declaration(self, var: str) -> list[str]:
        lex = self.lex
        lex.advance()
        if not lex.is_word("discrete"):
            raise lex.error(f"expected 'discrete' after 'type', found {lex.describe()}")
        lex.advance()
        lex.expect("[", "after 'discrete'")
        count_at = lex.start
        if not (lex.kind == "word" and lex.value.isascii() and lex.value.isdigit() and len(lex.value) < 10):
            raise lex.error(f"expected the number of states of '{var}', found {lex.describe()}")
        count = int(lex.value)
        lex.advance()
        lex.expect("]", "after the number of states")
        lex.expect("{", "before the state names")
        states: list[str] = []
        seen: set[str] = set()
        for state, pos in lex.names("state name", "}"):
            if state in seen:
                raise lex.error(f"state '{state}' of variable '{var}' is listed twice", pos)
            seen.add(state)
            states.append(state)
        lex.advance()
        lex.expect(";", "after the state names")
        if count != len(states):
            raise lex.error(f"variable '{var}' declares {count} states but lists {len(states)}", count_at)
        return states

    def declared(self, name: str, pos: int, role: str) -> str:
        if name not in self.states:
            raise self.lex.error(f"{role} '{name}' is not a declared variable", pos)
        return name

    def probability(self) -> None:
        lex = self.lex
        block_at = lex.start
        lex.advance()
        lex.expect("(", "after 'probability'")
        child = self.declared(*lex.name("variable name"), "probability block for")
        if child in self.values:
            first = lex.location(self.defined_at[child])
            raise lex.error(f"second probability block for '{child}' (first at {first})", block_at)
        if lex.is_punct("|") or lex.is_punct(","):
            lex.advance()
            named = lex.names("parent name", ")")
        elif lex.is_name():
            named = lex.names("parent name", ")")
        else:
            named = []
        lex.expect(")", "after the variables of a probability block")
        parents: list[str] = []
        for name, pos in named:
            self.declared(name, pos, "parent")
            if name == child or name in parents:
                raise lex.error(f"'{name}' appears twice in the probability block for '{child}'", pos)
            parents.append(name)
        lex.expect("{", "after the probability block header")
        self.values[child] = _CptBuilder(self, child, parents, block_at).build()
        self.parents[child] = parents
        self.defined_at[child] = block_at


class _CptBuilder:
    """Reads the entries of one probability block into a TabularCPD-layout array."""

    def __init__(self, parser: _Parser, child: str, parents: list[str], block_at: int) -> None:
        self.parser = parser
        self.lex = parser.lex
        self.child = child
        self.parents = parents
        self.card = len(parser.states[child])
        self.parent_cards = [len(parser.states[p]) for p in parents]
        self.n_configs = math.prod(self.parent_cards)  # exact: Python ints
        try:
            parser.budget.add((self.card, self.n_configs), 8, f"the table of '{child}'")
        except LimitError as e:
            raise LimitError(f"{parser.lex.source}:{parser.lex.location(block_at)}: {e}") from None
        self.rows: dict[int, list[float]] = {}
        self.row_at: dict[int, int] = {}
        self.table: list[float] | None = None
        self.default: list[float] | None = None

    def build(self) -> np.ndarray | _CptBuilder:
        lex = self.lex
        while not lex.is_punct("}"):
            if lex.is_punct("("):
                self.row()
            elif lex.is_word("table"):
                self.table_entry()
            elif lex.is_word("default"):
                self.default_entry()
            elif lex.is_word("property"):
                self.parser.properties.setdefault(self.child, []).append(lex.property())
            else:
                raise lex.error(
                    f"expected '(', 'table', 'default', 'property' or '}}' in the probability block "
                    f"for '{self.child}', found {lex.describe()}"
                )
        close_at = lex.start
        lex.advance()
        if self.table is None and self.default is None:
            self.check_complete(close_at)
        # a table from a 'default' row can be far larger than the text: it is allocated once
        # the budget has counted every table of the file (in parse); the others right away
        return self if self.default is not None else self.array()

    def array(self) -> np.ndarray:
        shape = (self.card, *self.parent_cards)
        if self.table is not None:
            return np.array(self.table, dtype=np.float64).reshape(shape)
        out = np.empty((self.card, self.n_configs))  # filled in place: the budget counted one table
        if self.default is not None:
            out[:] = np.array(self.default, dtype=np.float64)[:, None]
        if self.rows:
            out[:, np.fromiter(self.rows, np.int64)] = np.array(list(self.rows.values())).T
        return out.reshape(shape)

    def check_complete(self, close_at: int) -> None:
        missing = self.n_configs - len(self.rows)
        if not missing:
            return
        if not self.parents:
            raise self.lex.error(f"the probability block for '{self.child}' has no 'table' entry", close_at)
        # rows are distinct, so the first gap lies within the first len(rows) + 1 configurations
        config = next(c for c in range(self.n_configs) if c not in self.rows)
        digits = np.unravel_index(config, self.parent_cards)
        named = ", ".join(
            f"{p}={self.parser.states[p][int(d)]}" for p, d in zip(self.parents, digits, strict=True)
        )
        more = f" (and {missing - 1} more)" if missing > 1 else ""
        raise self.lex.error(
            f"the probability block for '{self.child}' has no row for ({named}){more}", close_at
        )

    def no_table(self, entry: str, pos: int) -> None:
        if self.table is not None:
            raise self.lex.error(f"{entry} after a 'table' entry for '{self.child}'", pos)

    def row(self) -> None:
        lex = self.lex
        row_at = lex.start
        self.no_table("a row", row_at)
        lex.advance()
        named = [] if lex.is_punct(")") else lex.names("parent state", ")")
        lex.advance()
        if len(named) != len(self.parents):
            raise lex.error(
                f"the row has {len(named)} parent state(s) but '{self.child}' has {len(self.parents)} "
                f"parent(s) ({', '.join(self.parents)})",
                row_at,
            )
        config = 0
        for (state, pos), parent, card in zip(named, self.parents, self.parent_cards, strict=True):
            index = self.parser.index[parent].get(state)
            if index is None:
                raise lex.error(f"'{state}' is not a state of '{parent}'", pos)
            config = config * card + index
        if config in self.rows:
            first = lex.location(self.row_at[config])
            raise lex.error(f"duplicate row for the same parent states (first at {first})", row_at)
        values = lex.numbers()
        if len(values) != self.card:
            raise lex.error(
                f"the row has {len(values)} probabilities, expected {self.card} "
                f"(one per state of '{self.child}')",
                row_at,
            )
        self.rows[config] = values
        self.row_at[config] = row_at

    def table_entry(self) -> None:
        lex = self.lex
        table_at = lex.start
        if self.table is not None or self.rows or self.default is not None:
            raise lex.error(f"'table' must be the only entry of the probability block for '{self.child}'")
        lex.advance()
        values = lex.numbers()
        expected = self.card * self.n_configs
        if len(values) != expected:
            raise lex.error(
                f"the table has {len(values)} probabilities, expected {expected} "
                f"({self.card} states of '{self.child}' x {self.n_configs} parent configurations)",
                table_at,
            )
        self.table = values

    def default_entry(self) -> None:
        lex = self.lex
        default_at = lex.start
        self.no_table("'default'", default_at)
        if self.default is not None:
            raise lex.error(f"second 'default' entry for '{self.child}'")
        lex.advance()
        values = lex.numbers()
        if len(values) != self.card:
            raise lex.error(
                f"'default' has {len(values)} probabilities, expected {self.card} "
                f"(one per state of '{self.child}')",
                default_at,
            )
        self.default = values


def _find_cycle(parents: dict[str, list[str]]) -> list[str] | None:
    """A directed cycle (parent before child, first node repeated at the end), or None."""
    done: set[str] = set()
    for root in parents:
        if root in done:
            continue
        path = [root]
        on_path = {root}
        stack = [iter(parents[root])]
        while stack:
            for parent in stack[-1]:
                if parent in on_path:
                    loop = path[path.index(parent) :]
                    return [*reversed(loop), loop[-1]]
                if parent not in done:
                    path.append(parent)
                    on_path.add(parent)
                    stack.append(iter(parents[parent]))
                    break
            else:
                stack.pop()
                node = path.pop()
                on_path.discard(node)
                done.add(node)
    return None


def parse_bif(text: str, source: str = "<string>") -> BifNetwork:
    """Parse BIF text; any problem raises :class:`BifSyntaxError` located in ``source``."""
    return _Parser(text, source).parse()


def read_bif(path: str | os.PathLike[str]) -> BifNetwork:
    """Read a ``.bif`` file, gzip-compressed or not (detected from its first bytes)."""
    path = Path(path)
    data: bytes | bytearray = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:  # expanded up to max_decompressed_bytes: a small gzip file can hold gigabytes
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
                data = read_capped(stream, f"the gzip file {path.name}")  # type: ignore[arg-type]
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{path.name}: corrupted gzip data ({exc})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return parse_bif(text, source=path.name)


def _check_name(name: object, what: str) -> None:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise ValueError(
            f"{what} {name!r} cannot be written to BIF: names must be non-empty, without whitespace, "
            "quotes, commas, brackets, braces, parentheses, '|', ';', '//' or '/*'"
        )


def _check_property(text: object, owner: str) -> None:
    if not isinstance(text, str) or text != text.strip() or any(c in text for c in ";{}"):
        raise ValueError(
            f"property {text!r} of {owner} cannot be written to BIF: it must be a string without "
            "';', '{', '}' or surrounding whitespace"
        )


def _checked_values(net: BifNetwork, var: str, parents: list[str]) -> np.ndarray:
    if var not in net.values:
        raise ValueError(f"variable '{var}' has no values")
    values = np.asarray(net.values[var], dtype=np.float64)
    shape = (len(net.states[var]), *(len(net.states[p]) for p in parents))
    if values.shape != shape:
        raise ValueError(f"values of '{var}' have shape {values.shape}, expected {shape}")
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError(f"values of '{var}' must be finite and non-negative")
    return values


def _validate(net: BifNetwork) -> dict[str, list[str]]:
    """Check that ``net`` can be written faithfully; returns every variable's parents."""
    _check_name(net.name, "network name")
    if not net.states:
        raise ValueError("the network has no variables")
    for var, states in net.states.items():
        _check_name(var, "variable name")
        if not states:
            raise ValueError(f"variable '{var}' has no states")
        for state in states:
            _check_name(state, f"state of '{var}'")
        if len(set(states)) != len(states):
            raise ValueError(f"variable '{var}' has duplicate states")
    for mapping, what in ((net.parents, "parents"), (net.values, "values")):
        unknown = set(mapping) - set(net.states)
        if unknown:
            raise ValueError(f"{what} given for undeclared variable(s) {sorted(unknown)}")
    parents = {var: list(net.parents.get(var, [])) for var in net.states}
    for var, ps in parents.items():
        for p in ps:
            if p not in net.states:
                raise ValueError(f"parent '{p}' of '{var}' is not a declared variable")
        if var in ps or len(set(ps)) != len(ps):
            raise ValueError(f"parents of '{var}' repeat a variable: {ps}")
    cycle = _find_cycle(parents)
    if cycle is not None:
        raise ValueError("the network has a cycle: " + " -> ".join(cycle))
    for owner, props in net.properties.items():
        if owner != NETWORK_PROPERTIES and owner not in net.states:
            raise ValueError(f"properties given for undeclared variable '{owner}'")
        for prop in props:
            _check_property(prop, owner)
    return parents


def format_bif(net: BifNetwork) -> str:
    """BIF text for ``net``, read back by :func:`parse_bif` to an equal network.

    Floats are written with ``repr`` so they round-trip bit for bit; rows run over the parent
    states in mixed-radix order, last parent fastest.
    """
    parents = _validate(net)
    out = [f"network {net.name} {{\n"]
    out.extend(f"  property {p};\n" for p in net.properties.get(NETWORK_PROPERTIES, []))
    out.append("}\n")
    for var, states in net.states.items():
        out.append(f"variable {var} {{\n  type discrete [ {len(states)} ] {{ {', '.join(states)} }};\n")
        out.extend(f"  property {p};\n" for p in net.properties.get(var, []))
        out.append("}\n")
    for var in net.states:
        values = _checked_values(net, var, parents[var])
        if not parents[var]:
            out.append(f"probability ( {var} ) {{\n  table {', '.join(map(repr, values.tolist()))};\n}}\n")
            continue
        out.append(f"probability ( {var} | {', '.join(parents[var])} ) {{\n")
        configs = itertools.product(*(net.states[p] for p in parents[var]))
        rows = values.reshape(len(net.states[var]), -1).T.tolist()
        for config, row in zip(configs, rows, strict=True):
            out.append(f"  ({', '.join(config)}) {', '.join(map(repr, row))};\n")
        out.append("}\n")
    return "".join(out)


def write_bif(net: BifNetwork, path: str | os.PathLike[str]) -> None:
    """Write ``net`` as BIF, gzip-compressed if ``path`` ends with ``.gz``."""
    data = format_bif(net).encode("utf-8")
    if os.fspath(path).endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    Path(path).write_bytes(data)
