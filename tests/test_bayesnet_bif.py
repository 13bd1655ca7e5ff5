"""BIF reader and writer: parity with pgmpy on its 24 bundled networks, round trips, error
locations, gzip handling and property-based robustness."""

from __future__ import annotations

import gzip
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scalegen.bayesnet._bif import (
    NETWORK_PROPERTIES,
    BifNetwork,
    BifSyntaxError,
    format_bif,
    parse_bif,
    read_bif,
    write_bif,
)


def _example_paths() -> list[Path]:
    # find_spec locates pgmpy without importing it (the import alone takes seconds)
    spec = importlib.util.find_spec("pgmpy")
    if spec is None or spec.origin is None:
        return []
    return sorted((Path(spec.origin).parent / "utils" / "example_models").glob("*.bif.gz"))


EXAMPLES = _example_paths()
NEEDS_EXAMPLES = pytest.mark.skipif(not EXAMPLES, reason="pgmpy's example networks are not installed")
EXAMPLE_IDS = [p.name.removesuffix(".bif.gz") for p in EXAMPLES]


def _example_text(name: str) -> str:
    return gzip.decompress(EXAMPLES[EXAMPLE_IDS.index(name)].read_bytes()).decode()


ASIA_TEXT = _example_text("asia") if EXAMPLES else ""


def _pgmpy_model(text: str):
    # pgmpy 1.1.2's BIFReader(path) opens the file as text, so gzip files go through string=
    reader = pytest.importorskip("pgmpy.readwrite").BIFReader
    return reader(string=text).get_model()


def assert_same_as_pgmpy(net: BifNetwork, model) -> None:
    assert list(model.nodes()) == list(net.states)
    for var in net.states:
        cpd = model.get_cpds(var)
        assert cpd.variables == [var, *net.parents[var]], var
        for v in cpd.variables:
            assert cpd.state_names[v] == net.states[v], (var, v)
        assert cpd.values.dtype == net.values[var].dtype == np.float64
        np.testing.assert_array_equal(cpd.values, net.values[var], err_msg=var)


def assert_identical(a: BifNetwork, b: BifNetwork) -> None:
    """Field by field, so that a failure says what differs, then the exact ``==``."""
    assert a.name == b.name
    assert list(a.states.items()) == list(b.states.items())
    assert list(a.parents.items()) == list(b.parents.items())
    assert a.properties == b.properties
    assert list(a.values) == list(b.values)
    for var, values in a.values.items():
        assert values.dtype == b.values[var].dtype and values.shape == b.values[var].shape, var
        assert values.tobytes() == b.values[var].tobytes(), var
    assert a == b


def assert_structurally_valid(net: BifNetwork) -> None:
    assert list(net.parents) == list(net.states) == list(net.values)
    for var, states in net.states.items():
        assert states and len(set(states)) == len(states)
        parents = net.parents[var]
        assert var not in parents and len(set(parents)) == len(parents)
        assert all(p in net.states for p in parents)
        values = net.values[var]
        assert values.dtype == np.float64
        assert values.shape == (len(states), *(len(net.states[p]) for p in parents))
        assert np.isfinite(values).all() and (values >= 0).all()


# --- parity with pgmpy on its bundled networks ------------------------------------------------


@NEEDS_EXAMPLES
def test_all_bundled_networks_are_found():
    assert len(EXAMPLES) >= 24
    assert {"asia", "alarm", "munin", "pigs", "link", "pathfinder"} <= set(EXAMPLE_IDS)


# pgmpy's pyparsing reader takes ~1 s (asia) to ~14 s (diabetes) per network, ~90 s in all,
# so every network is its own test.
@pytest.mark.parametrize("path", EXAMPLES, ids=EXAMPLE_IDS)
def test_same_network_as_pgmpy(path):
    net = read_bif(path)
    assert_structurally_valid(net)
    assert_same_as_pgmpy(net, _pgmpy_model(gzip.decompress(path.read_bytes()).decode()))


@pytest.mark.parametrize("path", EXAMPLES, ids=EXAMPLE_IDS)
def test_round_trip_is_exact(path):
    net = read_bif(path)
    assert_identical(parse_bif(format_bif(net)), net)


@NEEDS_EXAMPLES
@pytest.mark.parametrize("name", ["asia", "alarm"])
def test_pgmpy_reads_our_output(name):
    net = parse_bif(_example_text(name))
    assert_same_as_pgmpy(net, _pgmpy_model(format_bif(net)))


DIALECT = """/* comments, quotes, whitespace-separated lists, a 'table' with parents and the
   old header without '|' */
network "dialect" {
}
variable "a" { // the first variable
  type discrete [ 2 ] { yes no };
}
variable b {
  type discrete [ 3 ] { "lo", mid, hi };
}
variable c {
  type discrete [ 2 ] { <5, >=5 };
}
probability ( a ) {
  table 0.25 0.75;
}
probability ( b a ) {
  table 0.1 0.2 0.3 0.4 0.6 0.4;
}
probability ( c | a, "b" ) {
  (yes, lo) 0.5, 0.5;
  (yes, "mid") 0.25 0.75;
  (yes, hi) 1e-3, 0.999;
  (no, lo) 1, 0;
  (no, mid) 0.0 1.0;
  (no, hi) .5, 5e-1;
}
"""


def test_dialect_matches_pgmpy():
    net = parse_bif(DIALECT)
    assert net.name == "dialect"
    assert net.states == {"a": ["yes", "no"], "b": ["lo", "mid", "hi"], "c": ["<5", ">=5"]}
    assert net.parents == {"a": [], "b": ["a"], "c": ["a", "b"]}
    # 'table' lists the child's states slowest: P(b=lo | a=yes), P(b=lo | a=no), P(b=mid | a=yes), ...
    np.testing.assert_array_equal(net.values["b"], [[0.1, 0.2], [0.3, 0.4], [0.6, 0.4]])
    np.testing.assert_array_equal(net.values["c"][:, 1, 0], [1.0, 0.0])
    np.testing.assert_array_equal(net.values["c"][:, 1, 2], [0.5, 0.5])
    assert_same_as_pgmpy(net, _pgmpy_model(DIALECT))


def test_default_row_fills_the_unlisted_configurations():
    text = """network n { }
variable a { type discrete [ 3 ] { x, y, z }; }
variable b { type discrete [ 2 ] { t, f }; property label = b node; }
probability ( a ) { table 0.2, 0.3, 0.5; }
probability ( b | a ) {
  default 0.5, 0.5;
  (y) 0.9, 0.1;
  property note = partly default;
}
"""
    net = parse_bif(text)
    np.testing.assert_array_equal(net.values["b"], [[0.5, 0.9, 0.5], [0.5, 0.1, 0.5]])
    # properties of the probability block join those of the variable
    assert net.properties == {"b": ["label = b node", "note = partly default"]}
    assert_identical(parse_bif(format_bif(net)), net)


def test_network_properties_round_trip():
    text = "network n {\n  property software = ours;\n}\nvariable a { type discrete [ 1 ] { only }; }\n"
    net = parse_bif(text + "probability ( a ) { table 1; }\n")
    assert net.properties == {NETWORK_PROPERTIES: ["software = ours"]}
    assert net.values["a"].shape == (1,)
    assert_identical(parse_bif(format_bif(net)), net)


def test_file_without_network_block_is_unknown():
    net = parse_bif("variable a { type discrete [ 2 ] { u, v }; }\nprobability ( a ) { table 0.5, 0.5; }\n")
    assert net.name == "unknown"


# --- error locations ---------------------------------------------------------------------------

BASE = """network test {
}
variable a {
  type discrete [ 2 ] { yes, no };
}
variable b {
  type discrete [ 3 ] { lo, mid, hi };
}
probability ( a ) {
  table 0.25, 0.75;
}
probability ( b | a ) {
  (yes) 0.1, 0.2, 0.7;
  (no) 0.3, 0.3, 0.4;
}
"""


def test_base_text_is_valid():
    net = parse_bif(BASE)
    np.testing.assert_array_equal(net.values["b"], [[0.1, 0.3], [0.2, 0.3], [0.7, 0.4]])


def _error(text: str, source: str = "<string>") -> str:
    with pytest.raises(BifSyntaxError) as info:
        parse_bif(text, source)
    assert isinstance(info.value, ValueError)
    return str(info.value)


ERROR_CASES = [
    ("variable a {", "variable a", "4:3", "expected '{' after variable name, found 'type'"),
    ("[ 3 ]", "[ 4 ]", "7:19", "variable 'b' declares 4 states but lists 3"),
    ("lo, mid, hi", "lo, mid, lo", "7:34", "state 'lo' of variable 'b' is listed twice"),
    ("hi };", "hi ;", "7:37", "expected ',' or '}' after state name, found ';'"),
    ("discrete [ 2 ]", "continuous [ 2 ]", "4:8", "expected 'discrete' after 'type', found 'continuous'"),
    ("(no) 0.3", "(maybe) 0.3", "14:4", "'maybe' is not a state of 'a'"),
    ("(no) 0.3", "(no, lo) 0.3", "14:3", "the row has 2 parent state(s) but 'b' has 1 parent(s) (a)"),
    ("(yes) 0.1, 0.2, 0.7", "(yes) 0.1, 0.9", "13:3", "the row has 2 probabilities, expected 3"),
    ("  (no) 0.3, 0.3, 0.4;\n", "", "14:1", "the probability block for 'b' has no row for (a=no)"),
    ("(no) 0.3", "(yes) 0.3", "14:3", "duplicate row for the same parent states (first at 13:3)"),
    ("table 0.25, 0.75", "table 0.2.5, 0.75", "10:9", "malformed number '0.2.5'"),
    ("table 0.25, 0.75", "table 0.25, -0.75", "10:15", "negative probability '-0.75'"),
    ("table 0.25, 0.75", "table 0.25, 1e999", "10:15", "probability '1e999' is not finite"),
    ("table 0.25, 0.75", "table 0.25, nan", "10:15", "expected a probability, found 'nan'"),
    ("table 0.25, 0.75", "table 0.25,, 0.75", "10:14", "expected a probability, found ','"),
    ("table 0.25, 0.75;", "table 0.25, 0.75", "11:1", "expected ',' or ';' after a probability, found '}'"),
    ("table 0.25, 0.75", "table 0.25", "10:3", "the table has 1 probabilities, expected 2"),
    ("( b | a )", "( b | c )", "12:19", "parent 'c' is not a declared variable"),
    ("( b | a )", "( b | b )", "12:19", "'b' appears twice in the probability block for 'b'"),
    ("( a )", "( z )", "9:15", "probability block for 'z' is not a declared variable"),
    ("variable b", "variable a", "6:10", "variable 'a' is declared twice (first at 3:10)"),
    (
        "probability ( b | a ) {",
        "probability ( a ) { table 0.5, 0.5; }\nprobability ( b | a ) {",
        "12:1",
        "second probability block for 'a' (first at 9:1)",
    ),
    (
        "probability ( b | a ) {",
        "probability ( b | a ) {\n  table 0.1, 0.2, 0.7, 0.3, 0.3, 0.4;",
        "14:3",
        "a row after a 'table' entry for 'b'",
    ),
    ("variable a {", "variable a {\n  property x = 1", "4:3", "unterminated property: expected ';'"),
    ("0.25, 0.75;", '0.25, 0.75; "a', "10:21", "unterminated quoted name"),
    ("variable b", 'variable "b 2"', "6:10", "quoted name 'b 2' must be a non-empty name"),
    ("0.25, 0.75;", "0.25, /* 0.75;", "10:15", "unterminated comment '/*'"),
    ("network test", "network test}", "1:13", "expected '{' after the network name, found '}'"),
    ("probability ( a )", "probability ( a ) (", "9:19", "expected '{' after the probability block"),
    ("network test {\n}\n", "network test {\n}\nnetwork again {\n}\n", "3:1", "'network' block must come"),
]


@pytest.mark.parametrize(("old", "new", "where", "reason"), ERROR_CASES, ids=[c[3] for c in ERROR_CASES])
def test_error_names_line_and_column(old, new, where, reason):
    assert old in BASE
    message = _error(BASE.replace(old, new, 1), "test.bif")
    assert message.startswith(f"test.bif:{where}: "), message
    assert reason in message


def test_probability_block_is_required():
    text = BASE.replace("probability ( a ) {\n  table 0.25, 0.75;\n}\n", "")
    assert _error(text) == "<string>:3:10: variable 'a' has no probability block"


@pytest.mark.parametrize("text", ["", "  // nothing\n", "network n {\n}\n"])
def test_network_without_variables_is_refused(text):
    assert _error(text) == f"<string>:{_position_of_end(text)}: the text declares no variables"


def test_cycle_is_reported():
    text = BASE.replace(
        "probability ( a ) {\n  table 0.25, 0.75;\n}", "probability ( a | b ) { default 0.5, 0.5; }"
    )
    assert _error(text) == "<string>:10:1: the network has a cycle: b -> a -> b"


def _position_of_end(text: str) -> str:
    return f"{text.count(chr(10)) + 1}:{len(text) - text.rfind(chr(10))}"


@pytest.mark.parametrize(
    "cut", ["network test {", "variable a {\n  type discrete [", "{ yes, no", "table 0.25, ", "(yes) 0.1"]
)
def test_truncated_text_reports_its_end(cut):
    text = BASE[: BASE.index(cut) + len(cut)]
    message = _error(text)
    assert message.startswith(f"<string>:{_position_of_end(text)}: "), message
    assert message.endswith("found end of input")


def test_every_prefix_of_asia_fails_cleanly_or_parses():
    text = ASIA_TEXT or BASE
    complete = text.rstrip()
    for end in range(len(text)):
        try:
            net = parse_bif(text[:end])
        except BifSyntaxError:
            continue
        assert len(text[:end].rstrip()) == len(complete)
        assert_structurally_valid(net)


# --- gzip and encodings ------------------------------------------------------------------------


def _small_network() -> BifNetwork:
    return parse_bif(BASE)


def test_gzip_round_trip(tmp_path):
    net = _small_network()
    gz = tmp_path / "net.bif.gz"
    write_bif(net, gz)
    assert gz.read_bytes()[:2] == b"\x1f\x8b"
    assert_identical(read_bif(gz), net)
    plain = tmp_path / "net.bif"
    write_bif(net, str(plain))
    assert plain.read_text() == format_bif(net)
    assert_identical(read_bif(str(plain)), net)
    # gzip is recognised by its magic bytes, not by the suffix
    disguised = tmp_path / "disguised.bif"
    disguised.write_bytes(gz.read_bytes())
    assert_identical(read_bif(disguised), net)


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_corrupted_gzip_names_the_file(tmp_path, damage):
    data = gzip.compress(format_bif(_small_network()).encode())
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data = data[:20] + bytes(b ^ 0xFF for b in data[20:40]) + data[40:]
    path = tmp_path / "broken.bif.gz"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=r"broken\.bif\.gz"):
        read_bif(path)


def test_syntax_error_in_file_names_the_file(tmp_path):
    path = tmp_path / "bad.bif"
    path.write_text(BASE.replace("[ 3 ]", "[ 4 ]"))
    with pytest.raises(BifSyntaxError, match=r"^bad\.bif:7:19: "):
        read_bif(path)


def test_latin1_file_is_read(tmp_path):
    path = tmp_path / "latin1.bif"
    path.write_bytes(BASE.replace("mid", "caf\xe9").encode("latin-1"))
    assert read_bif(path).states["b"] == ["lo", "caf\xe9", "hi"]


# --- writer refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["", "two words", "a,b", "x(1)", 'q"', "a//b", "a/*b", "s;"])
def test_writer_refuses_names_bif_cannot_hold(bad):
    net = _small_network()
    net.states["b"][1] = bad
    with pytest.raises(ValueError, match="cannot be written"):
        format_bif(net)


def test_writer_refuses_inconsistent_networks():
    net = _small_network()
    net.values["b"] = net.values["b"][:, :1]
    with pytest.raises(ValueError, match="shape"):
        format_bif(net)
    net = _small_network()
    net.values["a"] = np.array([-0.25, 1.25])
    with pytest.raises(ValueError, match="non-negative"):
        format_bif(net)
    net = _small_network()
    net.parents["a"] = ["b"]
    with pytest.raises(ValueError, match="cycle"):
        format_bif(net)
    net = _small_network()
    net.properties["a"] = ["x = 1; y = 2"]
    with pytest.raises(ValueError, match="property"):
        format_bif(net)


def test_syntax_error_pickles():
    import pickle

    err = pickle.loads(pickle.dumps(BifSyntaxError("f.bif", 3, 4, "boom")))
    assert (str(err), err.line, err.column, err.reason) == ("f.bif:3:4: boom", 3, 4, "boom")


# --- property-based ----------------------------------------------------------------------------

BIF_VOCABULARY = [
    *'network variable probability type discrete table default property { } ( ) [ ] ; , | " // /* */'.split(),
    *"a b yes no 0 2 0.5 1e-3 -1 1e999 =".split(),
    "\n",
    " ",
]


def _parse_or_value_error(text: str) -> BifNetwork | None:
    try:
        return parse_bif(text)
    except ValueError:
        return None


@settings(max_examples=200, deadline=None)
@given(st.text() | st.lists(st.sampled_from(BIF_VOCABULARY), max_size=60).map("".join))
def test_arbitrary_text_raises_only_value_error(text):
    net = _parse_or_value_error(text)
    if net is not None:
        assert_structurally_valid(net)


_PIECE_RE = re.compile(r"(\s+|[{}()\[\];,|])")


@st.composite
def mutated_asia(draw) -> str:
    text = ASIA_TEXT
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["delete", "insert", "replace", "truncate", "drop", "repeat", "swap"]))
        if op in ("delete", "insert", "replace", "truncate"):
            i = draw(st.integers(0, len(text)))
            j = min(len(text), i + draw(st.integers(0, 8)))
            insert = draw(st.text(max_size=4) | st.sampled_from(BIF_VOCABULARY))
            text = {
                "delete": text[:i] + text[j:],
                "insert": text[:i] + insert + text[i:],
                "replace": text[:i] + insert + text[j:],
                "truncate": text[:i],
            }[op]
        else:
            pieces = _PIECE_RE.split(text)
            i = draw(st.integers(0, len(pieces) - 1))
            j = draw(st.integers(0, len(pieces) - 1))
            if op == "drop":
                del pieces[i]
            elif op == "repeat":
                pieces.insert(i, pieces[j])
            else:
                pieces[i], pieces[j] = pieces[j], pieces[i]
            text = "".join(pieces)
    return text


@NEEDS_EXAMPLES
@settings(max_examples=300, deadline=None)
@given(mutated_asia())
def test_mutated_asia_raises_only_value_error(text):
    net = _parse_or_value_error(text)
    if net is not None:
        assert_structurally_valid(net)


# no '/' so that no generated name contains a comment marker
_NAMES = st.text(alphabet="abcXYZ019_-.+<>=", min_size=1, max_size=6)
_EXTREMES = [0.0, 1.0, 5e-324, 2.2250738585072014e-308, 1e-300, 0.1, 1 / 3, 1e300]


@st.composite
def networks(draw) -> BifNetwork:
    names = draw(st.lists(_NAMES, min_size=1, max_size=6, unique=True))
    states = {v: draw(st.lists(_NAMES, min_size=2, max_size=4, unique=True)) for v in names}
    # parents come from earlier names, which keeps the graph acyclic; their order is random
    parents = {
        v: draw(st.lists(st.sampled_from(names[:i]), max_size=3, unique=True)) if i else []
        for i, v in enumerate(names)
    }
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    values = {}
    for v in names:
        shape = (len(states[v]), *(len(states[p]) for p in parents[v]))
        columns = rng.dirichlet(np.ones(shape[0]), size=int(np.prod(shape[1:])))
        table = np.ascontiguousarray(columns.T).reshape(shape)
        if draw(st.booleans()):
            table.flat[draw(st.integers(0, table.size - 1))] = draw(st.sampled_from(_EXTREMES))
        values[v] = table
    order = draw(st.permutations(names))
    prop = st.from_regex(r"[a-z]+ = [a-z0-9 ]*[a-z0-9]", fullmatch=True)
    props = draw(
        st.dictionaries(st.sampled_from([*names, NETWORK_PROPERTIES]), st.lists(prop, min_size=1, max_size=2))
    )
    return BifNetwork(
        name=draw(_NAMES),
        states={v: states[v] for v in order},
        parents={v: parents[v] for v in order},
        values={v: values[v] for v in order},
        properties=props,
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_random_networks_round_trip_exactly(net):
    assert_identical(parse_bif(format_bif(net)), net)
