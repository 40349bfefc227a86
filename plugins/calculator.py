"""Built-in calculator: exact arithmetic and math functions on a whitelisted expression tree (no eval)."""

from __future__ import annotations

import ast
import math
import re
import threading
import time
import warnings
from fractions import Fraction
from typing import Annotated, Any, Callable

from pydantic import Field

from assistant.api import ToolError, hookimpl, tool

MAX_EXPRESSION_CHARS = 500
MAX_NODES = 300
MAX_DEPTH = 60
MAX_DIGITS = 10_000  # no result (or intermediate value) may have more decimal digits than this
MAX_FACTORIAL = 1000
MAX_ROUND_DIGITS = 100
SHOW_ALL_DIGITS = 3000  # longer integers are shown abbreviated so the answer fits the tool output
SIG_DIGITS = 12
# The size limits above keep every step small; this bounds their sum, so no expression can keep a
# worker busy (the executor's timeout, set on the tool below, is only the last resort).
MAX_SECONDS = 2.0
_LOG10_2 = math.log10(2)

Number = int | Fraction | float

CONSTANTS: dict[str, Number] = {"pi": math.pi, "e": math.e, "tau": math.tau}


# ---------------------------------------------------------------- user-friendly input


_REPLACEMENTS = {
    "×": "*", "·": "*", "∙": "*", "÷": "/", "−": "-", "–": "-", "^": "**",
    "π": "pi", "√": "sqrt", "²": "**2", "³": "**3",
}
_PERCENT_OF = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*%\s*of\b", re.IGNORECASE)
# '%' right after a number and not followed by an operand is "percent", not modulo: "200 * 15%".
_PERCENT = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*%(?!\s*[\w.(])")
_TIMES_X = re.compile(r"(?<=[\d)])\s+[xX]\s+(?=[\d(.])")
_SQRT_NUMBER = re.compile(r"sqrt\s*(\d+(?:\.\d+)?)")
# Money as people write it: "$3.45", "3,000 €", "₩5000" (the symbol says nothing about the arithmetic).
_CURRENCY = re.compile(r"[$€£¥₩](?=\s*[\d.])|(?<=[\d.])\s*[$€£¥₩]")
# "15!" is factorial on paper; "!=" would be a comparison, which the calculator does not accept anyway.
_POSTFIX_FACTORIAL = re.compile(r"(?<![\w.])(\d+)\s*!(?!=)")
# "2pi", "2(3 + 4)" and "(1 + 2)(3 + 4)" mean multiplication, as on paper.
_IMPLICIT_TIMES = re.compile(r"((?<![\w.])\d+(?:\.\d+)?|\))\s*(?=\(|(?:pi|tau|sqrt|sin|cos|tan|log|ln|exp)\b)",
                             re.IGNORECASE)
_THOUSANDS = re.compile(r"(?<![\w.,])\d{1,3}(?:,\d{3})+(?!\d)")
ONE_ARG_FUNCTIONS = {"sqrt", "sin", "cos", "tan", "asin", "acos", "atan", "log10", "log2", "ln", "exp",
                     "abs", "floor", "ceil", "factorial", "degrees", "radians"}


def normalize(expression: str) -> str:
    """Rewrite everyday notation (×, ÷, ^, 12,345, 15% of 80, 3 x 4) into Python arithmetic."""
    text = expression.strip()
    for old, new in _REPLACEMENTS.items():
        text = text.replace(old, new)
    text = text.rstrip("=? \t\n").strip()
    text = _CURRENCY.sub("", text)
    text = _POSTFIX_FACTORIAL.sub(r"factorial(\1)", text)
    text = _SQRT_NUMBER.sub(r"sqrt(\1)", text)
    text = _strip_thousands(text)
    text = _PERCENT_OF.sub(r"(\1/100)*", text)
    text = _PERCENT.sub(r"(\1/100)", text)
    text = _TIMES_X.sub(" * ", text)
    return _IMPLICIT_TIMES.sub(r"\1*", text)


def _name_before(text: str, end: int) -> str:
    """The identifier just before text[end] (spaces allowed between), or ''."""
    # A scan, not a regex search: that was quadratic in a long run of letters before many '('.
    j = end
    while j > 0 and text[j - 1].isspace():
        j -= 1
    i = j
    while i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_"):
        i -= 1
    name = text[i:j]
    return name if name and not name[0].isdigit() else ""


def _strip_thousands(text: str) -> str:
    """Drop thousands separators, except where commas separate a function's arguments."""
    separates_args = [False] * len(text)
    stack: list[bool] = []
    for i, ch in enumerate(text):
        if ch == "(":
            name = _name_before(text, i)
            stack.append(bool(name) and name.lower() not in ONE_ARG_FUNCTIONS)
        elif ch == ")" and stack:
            stack.pop()
        separates_args[i] = bool(stack) and stack[-1]
    return _THOUSANDS.sub(
        lambda m: m.group(0) if separates_args[m.start()] else m.group(0).replace(",", ""), text)


# ---------------------------------------------------------------- size checks


def _digits(value: Number) -> float:
    """Roughly how many decimal digits an exact value carries (0 for floats, which cannot grow)."""
    if isinstance(value, int):
        return value.bit_length() * _LOG10_2
    if isinstance(value, Fraction):
        return (value.numerator.bit_length() + value.denominator.bit_length()) * _LOG10_2
    return 0.0


def _check_size(a: Number, b: Number, what: str) -> None:
    if _digits(a) + _digits(b) > MAX_DIGITS:
        raise ToolError(f"numbers too large: the {what} would have more than {MAX_DIGITS:,} digits")


def _exact(value: Number) -> Number:
    """Keep exact values small in type (a Fraction with denominator 1 becomes an int) and in size."""
    # Every operator and function result passes here: the one place that holds the digit limit.
    if _digits(value) > MAX_DIGITS + 1:
        raise ToolError(f"numbers too large: a result would have more than {MAX_DIGITS:,} digits")
    if isinstance(value, Fraction) and value.denominator == 1:
        return value.numerator
    if isinstance(value, float):
        if math.isnan(value):
            raise ToolError("the result is undefined (not a number)")
        if math.isinf(value):
            raise ToolError("the result is too large to compute")
    return value


def _to_float(value: Number) -> float:
    try:
        return float(value)
    except OverflowError:
        raise ToolError("a number is too large for this operation (it only works on numbers "
                        "below about 1e308)") from None


# ---------------------------------------------------------------- operators


def _div(a: Number, b: Number) -> Number:
    if b == 0:
        raise ToolError("division by zero")
    if isinstance(a, float) or isinstance(b, float):
        return _to_float(a) / _to_float(b)
    _check_size(a, b, "quotient")
    return Fraction(a) / Fraction(b)


def _floordiv(a: Number, b: Number) -> Number:
    if b == 0:
        raise ToolError("division by zero")
    if isinstance(a, float) or isinstance(b, float):
        return float(_to_float(a) // _to_float(b))
    return a // b


def _mod(a: Number, b: Number) -> Number:
    if b == 0:
        raise ToolError("modulo by zero")
    if isinstance(a, float) or isinstance(b, float):
        return _to_float(a) % _to_float(b)
    return a % b


def _mul(a: Number, b: Number) -> Number:
    if isinstance(a, float) or isinstance(b, float):
        return _to_float(a) * _to_float(b)
    _check_size(a, b, "product")
    return a * b


def _add(a: Number, b: Number) -> Number:
    if isinstance(a, float) or isinstance(b, float):
        return _to_float(a) + _to_float(b)
    if isinstance(a, Fraction) or isinstance(b, Fraction):
        _check_size(a, b, "sum")
    return a + b


def _sub(a: Number, b: Number) -> Number:
    return _add(a, -b)


def _pow(base: Number, exponent: Number) -> Number:
    if isinstance(exponent, float) and exponent.is_integer() and abs(exponent) < 2 ** 53:
        return _int_pow(_to_float(base), int(exponent))  # (-2) ** 2.0 is fine; the result stays a float
    if isinstance(exponent, int):
        return _int_pow(base, exponent)
    if base == 0 and exponent < 0:
        raise ToolError("division by zero (zero to a negative power)")
    b, x = _to_float(base), _to_float(exponent)
    if b < 0:
        raise ToolError("a negative number to a fractional power is not a real number")
    try:
        return math.pow(b, x)
    except OverflowError:
        raise ToolError("exponent too large: the result does not fit in a number") from None


def _int_pow(base: Number, exponent: int) -> Number:
    if isinstance(base, float):
        try:
            return math.pow(base, exponent)
        except OverflowError:
            raise ToolError("exponent too large: the result does not fit in a number") from None
        except ValueError:
            raise ToolError("division by zero (zero to a negative power)") from None
    if base == 0 and exponent < 0:
        raise ToolError("division by zero (zero to a negative power)")
    if base == 1 or exponent == 0:
        return 1
    if base == 0:
        return 0
    if base == -1:
        return 1 if exponent % 2 == 0 else -1
    # Estimate the size before computing, so 9**9**9**9 is refused at once instead of hanging.
    magnitude = max(math.log10(abs(base.numerator)), math.log10(base.denominator))
    if magnitude * abs(exponent) > MAX_DIGITS:
        raise ToolError(f"exponent too large: the result would have about "
                        f"{_approx_count(magnitude * abs(exponent))} digits (the limit is {MAX_DIGITS:,})")
    return Fraction(base) ** exponent


def _approx_count(n: float) -> str:
    return f"{n:,.0f}" if n < 1e15 else f"{n:.3g}"


BINARY_OPS: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: _add, ast.Sub: _sub, ast.Mult: _mul, ast.Div: _div, ast.FloorDiv: _floordiv,
    ast.Mod: _mod, ast.Pow: _pow,
}


# ---------------------------------------------------------------- functions


def _real(name: str, func: Callable[[float], float]) -> Callable[[Number], Number]:
    def call(x: Number) -> Number:
        try:
            return func(_to_float(x))
        except ValueError:
            raise ToolError(f"{name}({_format(x)}) is undefined (outside the function's domain)") from None
        except OverflowError:
            raise ToolError(f"{name}({_format(x)}) is too large to compute") from None
    return call


def _sqrt(x: Number) -> Number:
    if x < 0:
        raise ToolError("the square root of a negative number is not a real number")
    if not isinstance(x, float):
        q = Fraction(x)
        num, den = math.isqrt(q.numerator), math.isqrt(q.denominator)
        if num * num == q.numerator and den * den == q.denominator:
            return Fraction(num, den)  # exact: sqrt(16) is 4, not 4.0
    return math.sqrt(_to_float(x))


def _log(x: Number, base: Number | None = None) -> Number:
    if x <= 0:
        raise ToolError("the logarithm of zero or a negative number is undefined")
    if base is not None and (base <= 0 or base == 1):
        raise ToolError("a logarithm's base must be positive and not 1")
    value = _ln(x)
    return value if base is None else value / _ln(base)


def _ln(x: Number) -> float:
    # math.log accepts huge ints; a huge Fraction is split so float() cannot overflow.
    if isinstance(x, Fraction):
        return math.log(x.numerator) - math.log(x.denominator)
    return math.log(x)


def _log_base(base: int) -> Callable[[Number], Number]:
    def call(x: Number) -> Number:
        if x <= 0:
            raise ToolError("the logarithm of zero or a negative number is undefined")
        if isinstance(x, int) and x > 0:
            exact = _exact_log(x, base)
            if exact is not None:
                return exact
        return _ln(x) / math.log(base)
    return call


def _exact_log(x: int, base: int) -> int | None:
    """log10(1000) is exactly 3; floats would say 2.9999999999999996 for some powers."""
    power = round(math.log(x) / math.log(base))
    return power if power >= 0 and base ** power == x else None


def _integer(name: str, x: Number) -> int:
    if isinstance(x, float):
        if not x.is_integer():
            raise ToolError(f"{name} needs whole numbers, got {_format(x)}")
        return int(x)
    if isinstance(x, Fraction):
        raise ToolError(f"{name} needs whole numbers, got {_format(x)}")
    return x


def _factorial(x: Number) -> Number:
    n = _integer("factorial", x)
    if n < 0:
        raise ToolError("factorial is only defined for whole numbers 0 or greater")
    if n > MAX_FACTORIAL:
        raise ToolError(f"factorial is limited to n <= {MAX_FACTORIAL} (the result would be too large)")
    return math.factorial(n)


def _gcd(*args: Number) -> Number:
    return math.gcd(*(_integer("gcd", a) for a in args))


def _lcm(*args: Number) -> Number:
    ints = [_integer("lcm", a) for a in args]
    if sum(_digits(i) for i in ints) > MAX_DIGITS:
        raise ToolError(f"numbers too large: the lcm could have more than {MAX_DIGITS:,} digits")
    return math.lcm(*ints)


def _round(x: Number, ndigits: Number | None = None) -> Number:
    if ndigits is None:
        return round(x)
    n = _integer("round's number of digits", ndigits)
    if abs(n) > MAX_ROUND_DIGITS:
        raise ToolError(f"round's number of digits must be between -{MAX_ROUND_DIGITS} and {MAX_ROUND_DIGITS}")
    return round(x, n)


def _hypot(*args: Number) -> Number:
    try:
        return math.hypot(*(_to_float(a) for a in args))
    except OverflowError:
        raise ToolError("hypot: the result is too large") from None


def _min(*args: Number) -> Number:
    return min(args)


def _max(*args: Number) -> Number:
    return max(args)


# name -> (function, fewest arguments, most arguments or None for any number)
FUNCTIONS: dict[str, tuple[Callable[..., Number], int, int | None]] = {
    "sqrt": (_sqrt, 1, 1),
    "sin": (_real("sin", math.sin), 1, 1),
    "cos": (_real("cos", math.cos), 1, 1),
    "tan": (_real("tan", math.tan), 1, 1),
    "asin": (_real("asin", math.asin), 1, 1),
    "acos": (_real("acos", math.acos), 1, 1),
    "atan": (_real("atan", math.atan), 1, 1),
    "log": (_log, 1, 2),
    "ln": (_log, 1, 1),
    "log10": (_log_base(10), 1, 1),
    "log2": (_log_base(2), 1, 1),
    "exp": (_real("exp", math.exp), 1, 1),
    "abs": (abs, 1, 1),
    "round": (_round, 1, 2),
    "floor": (math.floor, 1, 1),
    "ceil": (math.ceil, 1, 1),
    "factorial": (_factorial, 1, 1),
    "gcd": (_gcd, 1, None),
    "lcm": (_lcm, 1, None),
    "min": (_min, 1, None),
    "max": (_max, 1, None),
    "hypot": (_hypot, 1, None),
    "degrees": (_real("degrees", math.degrees), 1, 1),
    "radians": (_real("radians", math.radians), 1, 1),
}


# ---------------------------------------------------------------- the tree walk

_NOT_ALLOWED = {
    ast.Attribute: "attribute access", ast.Subscript: "indexing", ast.Lambda: "lambda",
    ast.ListComp: "comprehensions", ast.SetComp: "comprehensions", ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions", ast.Compare: "comparisons", ast.BoolOp: "and/or",
    ast.IfExp: "if/else", ast.NamedExpr: "assignment", ast.Starred: "*arguments",
    ast.Tuple: "several values (commas only separate function arguments or group thousands "
               "like 12,345)",
    ast.List: "lists", ast.Dict: "dicts", ast.Set: "sets", ast.JoinedStr: "strings",
}


def _precheck(tree: ast.AST) -> None:
    """Bound the tree's size and depth before walking it recursively."""
    count = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ToolError(f"the expression is too complex (more than {MAX_NODES} parts)")
        if depth > MAX_DEPTH:
            raise ToolError(f"the expression is nested too deeply (more than {MAX_DEPTH} levels)")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


_budget = threading.local()  # the deadline of the evaluation running on this thread


def _check_time() -> None:
    if time.monotonic() > getattr(_budget, "deadline", math.inf):
        raise ToolError(f"the calculation takes too long (over {MAX_SECONDS:g} s); try smaller numbers")


def _eval(node: ast.AST) -> Number:
    _check_time()
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            if isinstance(value, complex):
                raise ToolError("complex numbers are not supported")
            raise ToolError(f"{value!r} is not a number")
        if isinstance(value, float):
            if math.isinf(value):
                raise ToolError("a number in the expression is too large")
            return _exact(Fraction(repr(value)))  # 0.1 means exactly 1/10, so 0.1 + 0.2 = 0.3
        return value
    if isinstance(node, ast.BinOp):
        op = BINARY_OPS.get(type(node.op))
        if op is None:
            symbol = {ast.BitXor: "^ (use ** or ^ for powers)", ast.BitAnd: "&", ast.BitOr: "|",
                      ast.LShift: "<<", ast.RShift: ">>", ast.MatMult: "@"}.get(type(node.op), "this")
            raise ToolError(f"the operator {symbol} is not supported")
        return _exact(op(_eval(node.left), _eval(node.right)))
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.USub):
            return -_eval(node.operand)
        if isinstance(node.op, ast.UAdd):
            return _eval(node.operand)
        raise ToolError("only + and - can come before a number")
    if isinstance(node, ast.Name):
        name = node.id.lower()
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name in FUNCTIONS:
            raise ToolError(f"{name} is a function: write {name}(x)")
        raise ToolError(f"unknown name {node.id!r}; known constants: pi, e, tau")
    if isinstance(node, ast.Call):
        return _call(node)
    what = _NOT_ALLOWED.get(type(node), type(node).__name__)
    raise ToolError(f"not allowed here: {what}. Use only numbers, + - * / // % ** (or ^), "
                    "parentheses and math functions")


def _call(node: ast.Call) -> Number:
    if isinstance(node.func, ast.Constant):
        raise ToolError("multiplication needs a '*': write 2 * (3 + 4), not 2(3 + 4)")
    if not isinstance(node.func, ast.Name):
        raise ToolError("only named math functions can be called, like sqrt(2)")
    name = node.func.id.lower()
    if name not in FUNCTIONS:
        known = ", ".join(FUNCTIONS)
        raise ToolError(f"unknown function {node.func.id!r}; known functions: {known}")
    if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
        raise ToolError(f"{name}() takes plain arguments only, like {name}(2)")
    func, least, most = FUNCTIONS[name]
    given = len(node.args)
    if given < least or (most is not None and given > most):
        wanted = (f"{least}" if least == most else f"{least} or {most}" if most is not None
                  else f"at least {least}")
        plural = "" if wanted == "1" else "s"
        raise ToolError(f"{name}() takes {wanted} argument{plural} ({given} given)")
    args = [_eval(a) for a in node.args]
    try:
        return _exact(func(*args))
    except ToolError:
        raise
    except (ValueError, OverflowError, TypeError, ZeroDivisionError) as exc:
        raise ToolError(f"{name}() failed: {exc}") from None


def evaluate(expression: str) -> Number:
    """Evaluate an arithmetic expression exactly where possible; raise ToolError when it can't."""
    if not isinstance(expression, str) or not expression.strip():
        raise ToolError("the expression is empty")
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ToolError(f"the expression is too long ({len(expression)} characters; "
                        f"the limit is {MAX_EXPRESSION_CHARS})")
    text = normalize(expression)
    if not text:
        raise ToolError("the expression is empty")
    try:
        with warnings.catch_warnings():  # "1if 2" parses with a SyntaxWarning nobody should see
            warnings.simplefilter("ignore", SyntaxWarning)
            warnings.simplefilter("ignore", DeprecationWarning)  # "invalid escape sequence" in a string
            tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        where = f" at position {exc.offset}" if exc.offset else ""
        raise ToolError(f"cannot read the expression{where}: write it like '2 * (3 + 4)' "
                        f"or 'sqrt(2)'") from None
    except (ValueError, RecursionError, MemoryError):
        raise ToolError("cannot read the expression") from None
    _precheck(tree)
    _budget.deadline = time.monotonic() + MAX_SECONDS
    try:
        return _exact(_eval(tree))
    except RecursionError:
        raise ToolError("the expression is nested too deeply") from None
    except ZeroDivisionError:
        raise ToolError("division by zero") from None
    except OverflowError:
        raise ToolError("the result is too large to compute") from None
    finally:
        _budget.deadline = math.inf


# ---------------------------------------------------------------- formatting


def _int_to_str(n: int) -> str:
    """Decimal digits of any int (Python refuses str() beyond 4,300 digits by default)."""
    if n < 0:
        return "-" + _int_to_str(-n)
    if n.bit_length() < 13_000:
        return str(n)
    half = int(n.bit_length() * _LOG10_2) // 2
    high, low = divmod(n, 10 ** half)
    return _int_to_str(high) + _int_to_str(low).zfill(half)


def _format(value: Number) -> str:
    """Integers exactly; everything else to 12 significant digits without float noise."""
    if isinstance(value, int):
        text = _int_to_str(value)
        digits = len(text.lstrip("-"))
        if digits > SHOW_ALL_DIGITS:
            sign, body = ("-", text[1:]) if text.startswith("-") else ("", text)
            return (f"{sign}{body[:60]}...{body[-20:]} (an integer with {digits:,} digits, about "
                    f"{sign}{body[0]}.{body[1:7]}e+{digits - 1})")
        return text
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return _format_rational(Fraction(value))


def _format_rational(q: Fraction) -> str:
    if q == 0:
        return "0"
    sign, q = ("-" if q < 0 else ""), abs(q)
    # Find e with 10**e <= q < 10**(e+1), starting from a bit-length estimate.
    e = math.floor((q.numerator.bit_length() - q.denominator.bit_length()) * _LOG10_2)
    while q >= Fraction(10) ** (e + 1):
        e += 1
    while q < Fraction(10) ** e:
        e -= 1
    digits = round(q * Fraction(10) ** (SIG_DIGITS - 1 - e))
    if digits >= 10 ** SIG_DIGITS:  # rounding carried into a new digit (9.9999999999996 -> 10)
        digits //= 10
        e += 1
    text = str(digits).rstrip("0") or "0"
    if -7 <= e < 15:
        if e >= 0:
            whole = text[: e + 1].ljust(e + 1, "0")
            frac = text[e + 1:]
        else:
            whole, frac = "0", "0" * (-e - 1) + text
        return sign + whole + ("." + frac if frac else "")
    mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
    return f"{sign}{mantissa}e{'+' if e >= 0 else '-'}{abs(e):02d}"


# ---------------------------------------------------------------- the tool


@tool(timeout_s=10.0, examples=[
    ("what is 12345 times 6789?", {"expression": "12345 * 6789"}),
    ("what's the square root of 2 plus 15% of 80?", {"expression": "sqrt(2) + 15% of 80"}),
    ("how much is 2 to the power of 100", {"expression": "2 ** 100"}),
    ("sin of 30 degrees", {"expression": "sin(radians(30))"}),
])
def calculator(
    # No braces, quotes or backslashes: a small model that starts closing the JSON inside the string
    # ("sqrt(1764)}}...") is stopped by the grammar (which then also caps the length, see capped()).
    expression: Annotated[str, Field(description="Arithmetic to compute, like '12345 * 6789', "
                                     "'(3 + 4) ^ 2', 'sqrt(2)', '15% of 80' or 'log(100, 10)'",
                                     pattern=r"^[^{}\[\]\"\\]*$")],
) -> str:
    """Compute an arithmetic expression exactly: + - * / ^, parentheses, percent and math functions (sqrt, sin, log, factorial, ...)."""
    value = evaluate(expression)
    return f"{' '.join(expression.split())} = {_format(value)}"


@hookimpl
def register_tools(register: Callable[[Any], None]) -> None:
    register(calculator)
