"""The calculator tool: exact results, friendly notation, clean errors, hard limits, no code execution."""

from __future__ import annotations

import math
import time

import pytest

from plugins.calculator import MAX_EXPRESSION_CHARS, calculator


def test_contract(tool_contract):
    spec = tool_contract(calculator)
    assert spec.name == "calculator"
    assert not spec.network and spec.file_access == "none"
    assert len(spec.examples) >= 2


@pytest.mark.parametrize("expression, expected", [
    ("12345*6789", "83810205"),
    ("12345 * 6789", "83810205"),
    ("12,345 * 6,789", "83810205"),
    ("1,234,567 + 1", "1234568"),
    ("10/2", "5"),
    ("7/2", "3.5"),
    ("1/3", "0.333333333333"),
    ("2/3", "0.666666666667"),
    ("0.1 + 0.2", "0.3"),
    ("1/7*7", "1"),
    ("2**100", str(2 ** 100)),
    ("2^100", str(2 ** 100)),
    ("99999999999999999999 * 99999999999999999999", str(99999999999999999999 ** 2)),
    ("-2**2", "-4"),
    ("(-2)**3", "-8"),
    ("2**-2", "0.25"),
    ("17 // 5", "3"),
    ("17 % 5", "2"),
    ("3 × 4 ÷ 2", "6"),
    ("3 x 4", "12"),
    ("15% of 80", "12"),
    ("200 * 15%", "30"),
    ("7 * $3.45", "24.15"),
    ("$86.40 * 20%", "17.28"),
    ("3,000 € / 4", "750"),
    ("15!", "1307674368000"),
    ("5! + 3!", "126"),
    ("sqrt(16)", "4"),
    ("sqrt(2)", "1.41421356237"),
    ("√9", "3"),
    ("pi", "3.14159265359"),
    ("2 * PI", "6.28318530718"),
    ("tau / 2", "3.14159265359"),
    ("e", "2.71828182846"),
    ("sin(radians(30))", "0.5"),
    ("cos(0)", "1"),
    ("degrees(pi)", "180"),
    ("atan(1) * 4", "3.14159265359"),
    ("log(e)", "1"),
    ("ln(1)", "0"),
    ("log(100, 10)", "2"),
    ("log10(1000)", "3"),
    ("log2(1024)", "10"),
    ("exp(0)", "1"),
    ("abs(-3.5)", "3.5"),
    ("round(2.567, 2)", "2.57"),
    ("round(2.5)", "2"),
    ("floor(-2.5)", "-3"),
    ("ceil(2.1)", "3"),
    ("factorial(20)", str(math.factorial(20))),
    ("factorial(100)", str(math.factorial(100))),
    ("gcd(12, 18)", "6"),
    ("lcm(4, 6)", "12"),
    ("min(3, 1, 2)", "1"),
    ("max(3, 1, 2)", "3"),
    ("hypot(3, 4)", "5"),
    ("1e20", "100000000000000000000"),
    ("1e-20", "1e-20"),
    ("exp(40)", "2.35385266837e+17"),
    ("2 + 2 =", "4"),
    ("2(3 + 4)", "14"),
    ("(1 + 2)(3 + 4)", "21"),
    ("2pi", "6.28318530718"),
    ("2√9", "6"),
    ("log10(100)", "2"),
    ("1.5e3", "1500"),
])
def test_results(tool_runner, expression, expected):
    outcome = tool_runner(calculator, expression=expression)
    assert outcome.ok, outcome.output
    assert outcome.output.endswith(f"= {expected}")


def test_big_integers_are_exact(tool_runner):
    outcome = tool_runner(calculator, expression="factorial(1000) // factorial(998)")
    assert outcome.output.endswith("= 999000")
    outcome = tool_runner(calculator, expression="3**2000")
    assert outcome.ok and outcome.output.endswith(str(3 ** 2000))


def test_very_long_results_are_abbreviated(tool_runner):
    outcome = tool_runner(calculator, expression="10**9999")
    assert outcome.ok
    assert "10,000 digits" in outcome.output and len(outcome.output) < 400


@pytest.mark.parametrize("expression, message", [
    ("1/0", "division by zero"),
    ("5 // 0", "division by zero"),
    ("5 % 0", "by zero"),
    ("0 ** -1", "division by zero"),
    ("foo + 1", "unknown name 'foo'"),
    ("open('x')", "unknown function 'open'"),
    ("sqrt", "sqrt is a function"),
    ("sqrt(1, 2)", "takes 1 argument"),
    ("log()", "takes 1 or 2 arguments"),
    ("sqrt(-1)", "not a real number"),
    ("(-8) ** (1/3)", "not a real number"),
    ("log(0)", "undefined"),
    ("log(8, 1)", "base"),
    ("acos(2)", "undefined"),
    ("exp(1000)", "too large"),
    ("1e400", "too large"),
    ("9**9**9**9", "exponent too large"),
    ("10**100000", "exponent too large"),
    ("2**(10**30)", "exponent too large"),
    ("(1/3)**100000", "exponent too large"),
    ("factorial(100000)", "factorial is limited"),
    ("factorial(-1)", "0 or greater"),
    ("factorial(2.5)", "whole numbers"),
    ("round(1.5, 10**9)", "round's number of digits"),
    ("1, 2", "commas"),
    ("2 < 3", "comparisons"),
    ("1 if 1 else 2", "if/else"),
    ("2j", "complex"),
    ("'abc'", "not a number"),
    ("True + 1", "not a number"),
    ("1e5(2)", "needs a '*'"),
    ("2 +", "cannot read the expression"),
    ("", "empty"),
    ("   ", "empty"),
    ("1 & 2", "operator"),
])
def test_errors_are_clean(tool_runner, expression, message):
    outcome = tool_runner(calculator, expression=expression)
    assert not outcome.ok
    assert outcome.output.startswith("error: ")
    assert message in outcome.output
    assert "Traceback" not in outcome.output


@pytest.mark.parametrize("expression", [
    "__import__('os').system('touch /tmp/biseo-pwned')",
    "().__class__.__bases__[0].__subclasses__()",
    "(1).real",
    "(lambda: 1)()",
    "lambda: 1",
    "[x for x in range(3)]",
    "{x for x in (1,)}",
    "(x for x in (1,))",
    "{'a': 1}",
    "[1, 2]",
    "(a := 1)",
    "sqrt(*[4])",
    "round(2.5, ndigits=1)",
    "exec('1')",
    "eval('1')",
    "globals()",
    "f'{1}'",
    "x[0]",
    "sqrt.__call__(4)",
])
def test_code_is_never_executed(tool_runner, tmp_path, expression):
    outcome = tool_runner(calculator, expression=expression.replace("/tmp", str(tmp_path)))
    assert not outcome.ok
    assert outcome.output.startswith("error: ")
    assert not (tmp_path / "biseo-pwned").exists()


def test_limits_answer_fast(tool_runner):
    for expression in ("9**9**9**9", "10**100000", "factorial(100000)", "(10**5000)*(10**5000)*(10**5000)",
                       "factorial(1000)**4", "2**2**2**2**2**2**2"):
        start = time.monotonic()
        outcome = tool_runner(calculator, expression=expression)
        assert time.monotonic() - start < 1.0, expression
        assert not outcome.ok and "too large" in outcome.output, (expression, outcome.output)


def test_long_expression_is_refused(tool_runner):
    outcome = tool_runner(calculator, expression="1+" * (MAX_EXPRESSION_CHARS // 2) + "1")
    assert not outcome.ok and "too long" in outcome.output


def test_deep_nesting_is_refused(tool_runner):
    outcome = tool_runner(calculator, expression="(" * 150 + "1" + ")" * 150)
    assert outcome.ok and outcome.output.endswith("= 1")  # parentheses alone add no depth
    outcome = tool_runner(calculator, expression="(" * 240 + "1" + ")" * 240)
    assert not outcome.ok and outcome.output.startswith("error: ")
    outcome = tool_runner(calculator, expression="-" * 200 + "1")
    assert not outcome.ok and "nested too deeply" in outcome.output


def test_needs_no_approval(tool_runner):
    assert tool_runner.needs_approval(calculator, expression="1+1") is False


# Fuzzing (thousands of generated expressions, random text and injection attempts) lives in
# tests/trust/test_calculator_fuzz.py, the trust suite's "calculator-fuzz" category.


def test_the_grammar_keeps_json_out_of_expressions():
    """A model that starts closing the JSON inside the expression is stopped by the schema, not looped."""
    from assistant.api import spec_of
    from plugins.calculator import calculator

    spec = spec_of(calculator)
    with pytest.raises(Exception, match="pattern"):
        spec.validate({"expression": "sqrt(1764)}}.000"})
    assert spec.validate({"expression": "sqrt(1764)"}) == {"expression": "sqrt(1764)"}
