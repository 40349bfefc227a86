"""The calculator under fuzzing: thousands of generated expressions, random text and injection attempts.

Each case must end in a result or the tool's clear error (never another exception), finish within the
tool's time limit, and run no code: a sentinel file the payloads try to create never appears, and an
audit hook sees no exec, import, file, process or socket event from the calculator's thread.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from assistant.api import ToolError, spec_of
from plugins import calculator as calc_module
from plugins.calculator import calculator

pytestmark = pytest.mark.trust("calculator-fuzz")

LIMIT_S = spec_of(calculator).timeout_s  # the executor stops waiting after this
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
                database=None)

# ---------------------------------------------------------------- no code runs: an audit hook

_watched: set[int] = set()  # threads currently running the calculator
_events: list[tuple[str, str]] = []
# Events of running code, loading modules, touching files, processes or the network. (Not sys._getframe:
# PySide6's import hook, loaded by pytest-qt, calls it when the re module looks itself up.)
_FORBIDDEN = ("exec", "import", "open", "os.", "subprocess.", "shutil.", "socket.", "ctypes.", "builtins.input",
              "code.__new__", "function.__new__", "marshal.", "pickle.", "webbrowser.")


def _audit(event: str, args: tuple) -> None:
    if threading.get_ident() in _watched and event.startswith(_FORBIDDEN):
        _events.append((event, repr(args)[:200]))


sys.addaudithook(_audit)  # hooks cannot be removed; outside the calculator's threads it does nothing


def _run(expression: str) -> tuple[str, str]:
    """('result' | 'error' | 'crash' | 'hang', text) for one expression, on a watched thread."""
    box: dict[str, tuple[str, str]] = {}

    def work() -> None:
        _watched.add(threading.get_ident())
        try:
            box["out"] = ("result", calculator(expression))
        except ToolError as exc:
            box["out"] = ("error", str(exc))
        except BaseException as exc:  # noqa: BLE001 - any other exception is the crash we look for
            box["out"] = ("crash", f"{type(exc).__name__}: {exc}")
        finally:
            _watched.discard(threading.get_ident())

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(LIMIT_S)
    return box.get("out", ("hang", f"still running after {LIMIT_S:g} s"))


class Fuzz:
    """Runs cases and keeps the figures for the trust report."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel
        self.counts: Counter[str] = Counter()

    def check(self, expression: str) -> tuple[str, str]:
        expression = expression.replace("{S}", str(self.sentinel))
        kind, text = _run(expression)
        self.counts[kind] += 1
        assert kind in ("result", "error"), f"{kind}: {text} for {expression!r}"
        assert text.strip(), f"empty {kind} for {expression!r}"
        if kind == "result":
            shown = text.rsplit(" = ", 1)[-1].lower()
            assert " = " in text and "nan" not in shown and "inf" not in shown, (expression, text)
        assert "Traceback" not in text
        assert not self.sentinel.exists(), f"code ran: {expression!r}"
        assert not _events, f"{_events} while computing {expression!r}"
        return kind, text

    def report(self, trust_figures) -> None:
        trust_figures.add("calculator-fuzz", expressions=sum(self.counts.values()),
                          crashes=self.counts["crash"], hangs=self.counts["hang"],
                          code_executed=int(self.sentinel.exists()) + len(_events))


@pytest.fixture
def fuzz(tmp_path) -> Fuzz:
    _events.clear()
    return Fuzz(tmp_path / "PWNED")


# ---------------------------------------------------------------- grammar-shaped arithmetic

NUMBERS = st.one_of(
    st.integers(0, 10 ** 6).map(str),
    st.integers(0, 10 ** 40).map(str),
    st.integers(10 ** 100, 10 ** 400).map(str),  # huge literals
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(min_value=0, max_value=1e6, allow_nan=False).map(lambda f: f"{f:.3f}"),
    st.sampled_from(["0", "1", "2", "10", "0.5", ".5", "5.", "1e308", "1.8e308", "1e-320", "1e5000", "9.99e307",
                     "1_000", "12,345", "1,234,567.89", "0x1f", "0b101", "0o17", "007", "pi", "e", "tau", "PI",
                     "π", "$3.45", "3,000 €", "₩5000", "15%", "√9", "2²", "3³", "1e-7", "123456789012345678901234"]),
)
FUNCTIONS = ["sqrt", "sin", "cos", "tan", "asin", "acos", "atan", "log", "ln", "log10", "log2", "exp", "abs",
             "round", "floor", "ceil", "factorial", "gcd", "lcm", "min", "max", "hypot", "degrees", "radians",
             "SQRT", "Log", "foo", "print", "int"]
OPERATORS = ["+", "-", "*", "/", "//", "%", "**", "^", "×", "÷", "·", "−", "x", "% of"]


def _grow(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.tuples(inner, st.sampled_from(OPERATORS), inner).map(lambda t: f"{t[0]} {t[1]} {t[2]}")
    tight = st.tuples(inner, st.sampled_from(["**", "^", "*", "/", "-"]), inner).map("".join)
    call = st.tuples(st.sampled_from(FUNCTIONS), st.lists(inner, max_size=3)).map(
        lambda t: f"{t[0]}({', '.join(t[1])})")
    return st.one_of(
        binary, tight, call,
        inner.map(lambda s: f"({s})"), inner.map(lambda s: f"-{s}"), inner.map(lambda s: f"+{s}"),
        inner.map(lambda s: f"({s})!"), st.integers(0, 3000).map(lambda n: f"{n}!"),
        st.tuples(inner, inner).map(lambda t: f"({t[0]})({t[1]})"),  # implicit multiplication
        st.tuples(inner, inner, inner).map(lambda t: f"{t[0]} ** {t[1]} ** {t[2]}"),  # power towers
        inner.map(lambda s: f"{s} ="), inner.map(lambda s: f"{s}?"),
    )


EXPRESSIONS = st.recursive(NUMBERS, _grow, max_leaves=16)


def test_generated_arithmetic(fuzz, trust_figures):
    @settings(FUZZ, max_examples=3000)
    @given(EXPRESSIONS)
    def run(expression: str) -> None:
        fuzz.check(expression)

    run()
    fuzz.report(trust_figures)
    # The grammar must reach the evaluator, not only its error paths.
    assert fuzz.counts["result"] >= 0.2 * sum(fuzz.counts.values()), fuzz.counts


# ---------------------------------------------------------------- exact answers for integer arithmetic


@st.composite
def _integer_tree(draw: st.DrawFn, depth: int = 0) -> tuple[str, int]:
    """(expression, its exact value) for + - * and small powers over integers, computed independently."""
    if depth >= 4 or draw(st.booleans()):
        n = draw(st.integers(-10 ** 25, 10 ** 25))
        return (f"({n})" if n < 0 else str(n)), n
    left_text, left = draw(_integer_tree(depth + 1))
    right_text, right = draw(_integer_tree(depth + 1))
    op = draw(st.sampled_from(["+", "-", "*", "**"]))
    if op == "**":
        exponent = draw(st.integers(0, 5))
        return f"({left_text}) ** {exponent}", left ** exponent
    value = {"+": left + right, "-": left - right, "*": left * right}[op]
    return f"({left_text} {op} {right_text})", value


def test_integer_arithmetic_is_exact(fuzz, trust_figures):
    @settings(FUZZ, max_examples=1000)
    @given(_integer_tree())
    def run(case: tuple[str, int]) -> None:
        expression, value = case
        kind, text = fuzz.check(expression)
        if len(expression) <= calc_module.MAX_EXPRESSION_CHARS and len(str(abs(value))) <= 3000:
            assert kind == "result" and text.endswith(f" = {value}"), (expression, value, text)

    run()
    fuzz.report(trust_figures)


# ---------------------------------------------------------------- random text


CALCULATOR_CHARS = list("0123456789+-*/%^().,e ×÷√π²!$€_'\"[]{}:;=<>~@&|\\#\n\t\x00abcdefgijklmnopqrstuvwxyz")


def test_random_text(fuzz, trust_figures):
    @settings(FUZZ, max_examples=1500)
    @given(st.one_of(st.text(max_size=200), st.text(alphabet=st.sampled_from(CALCULATOR_CHARS), max_size=300),
                     st.text(min_size=490, max_size=520)))
    def run(expression: str) -> None:
        fuzz.check(expression)

    run()
    fuzz.report(trust_figures)


# ---------------------------------------------------------------- Python injection

PAYLOADS = [
    "__import__('os').system('touch {S}')",
    '__import__("os").system("touch {S}")',
    "open('{S}', 'w').write('x')",
    "exec(\"open('{S}', 'w')\")",
    "eval('__import__(\"os\").system(\"touch {S}\")')",
    "(lambda: __import__('os').system('touch {S}'))()",
    "(lambda f: f(f))(lambda f: f(f))",
    "[__import__('os').system('touch {S}') for _ in (1,)]",
    "{__import__('os').system('touch {S}') for _ in (1,)}",
    "(__import__('os').system('touch {S}') for _ in (1,))",
    "f\"{__import__('os').system('touch {S}')}\"",
    "f'{open(\"{S}\", \"w\")}'",
    "().__class__.__base__.__subclasses__()",
    "[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'Popen'][0](['touch', '{S}'])",
    "(1).__class__.__bases__[0].__subclasses__()",
    "sqrt.__globals__['__builtins__']['open']('{S}', 'w')",
    "factorial.__self__.__dict__",
    "__builtins__.open('{S}', 'w')",
    "globals()['__builtins__'].__import__('os').system('touch {S}')",
    "getattr(__import__('os'), 'system')('touch {S}')",
    "(x := __import__('os')).system('touch {S}')",
    "__import__('subprocess').run(['touch', '{S}'])",
    "__import__('pathlib').Path('{S}').touch()",
    "1; __import__('os').system('touch {S}')",
    "1\n__import__('os').system('touch {S}')",
    "2 + 2 # __import__('os').system('touch {S}')",
    "__import__('os').system('touch {S}') if 1 else 0",
    "[*map(__import__('os').system, ['touch {S}'])]",
    "type('X', (), {'__del__': lambda s: open('{S}', 'w')})()",
    "compile('open(\"{S}\", \"w\")', 'x', 'exec')",
    "__loader__.load_module('os')",
    "breakpoint()", "vars()", "dir()", "input()", "help()", "exit()", "quit()", "locals()",
    "'\\x5f\\x5fimport\\x5f\\x5f'",
    "import os", "await x", "yield 1", "async def f(): pass",
    "ｅｘｅｃ('open(\"{S}\", \"w\")')",  # full-width letters, NFKC-normalised to exec by Python
    "𝓮𝓿𝓪𝓵('1')",
    "sqrt.__call__(4)", "(1).real", "1 .__class__", "pi.__class__", "max.__name__",
    "sqrt(*[4])", "round(2.5, ndigits=1)", "log(**{'x': 2})",
    "__import__", "__builtins__", "__class__", "__dict__", "_", "__", "os",
    "[1, 2][0]", "{'a': 1}['a']", "{1, 2}", "(1, 2)", "...", "None", "True", "b'1'", "r'1'", "'%s' % 1",
    "1 if __import__('os').system('touch {S}') else 2",
    "min(1, (lambda: __import__('os').system('touch {S}'))())",
]
CONTEXTS = ["{p}", "1 + {p}", "sqrt({p})", "({p}) ** 2", "{p}!", "2({p})", "max(1, {p}, {a})", "{a} * {p}",
            "{p} + {a}", "-{p}", "(({p}))", "{a} ^ ({p})"]


def test_injection_attempts(fuzz, trust_figures):
    @settings(FUZZ, max_examples=1000)
    @given(st.sampled_from(PAYLOADS), st.sampled_from(CONTEXTS), st.one_of(NUMBERS, EXPRESSIONS),
           st.sampled_from([str, str.upper, str.title, lambda s: s.replace("'", '"'), lambda s: s.replace(" ", "")]))
    def run(payload: str, context: str, other: str, mutate) -> None:
        kind, text = fuzz.check(mutate(context.format(p=payload, a=other)))
        if kind == "result":  # only a comment-hidden payload can compute, and then only the arithmetic
            assert "#" in payload, text

    run()
    fuzz.report(trust_figures)


# ---------------------------------------------------------------- the limit on work


def test_the_calculator_has_a_limit_on_work(monkeypatch):
    """Beyond the size limits, a time budget ends any evaluation with a clear error, below the executor's."""
    assert LIMIT_S is not None and calc_module.MAX_SECONDS < LIMIT_S
    monkeypatch.setattr(calc_module, "MAX_SECONDS", -1.0)  # a budget that is already spent
    kind, text = _run("1 + 2 * 3")
    assert kind == "error" and "takes too long" in text
    monkeypatch.undo()
    assert _run("1 + 2 * 3") == ("result", "1 + 2 * 3 = 7")  # the budget is per evaluation


@pytest.mark.parametrize("expression", [
    "9**9**9**9", "10**9999 * 10**9999", "factorial(1000)**4", "factorial(3000)", "3000!",
    "(10**5000)//(1/10**5000)//(1/10**5000)//(1/10**5000)", "lcm(" + ", ".join(["10**4000"] * 5) + ")",
    "2**2**2**2**2**2", "(1/3**5000)**5", "1/(3**9000) + 1/(7**9000)", "round(1.5, 10**9)", "-" * 200 + "1",
    "(" * 240 + "1" + ")" * 240, "1+" * 240 + "1", "a" * 250 + "(" * 240, "log(" * 100 + "2" + ")" * 100,
])
def test_known_heavy_expressions_are_refused_cleanly(fuzz, expression):
    kind, text = fuzz.check(expression)
    assert kind == "error", text
