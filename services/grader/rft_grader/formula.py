"""``calculate_output`` formulas of multi graders: a tokenizer, a Pratt parser and an evaluator.

A formula is user input that reaches every grading call, so it is parsed into a small AST and
evaluated by walking it; nothing here ever calls ``eval``. Grammar (lowest binding first):
``+ -`` (left), ``* /`` (left), unary ``- +``, ``^`` (right; ``-2^2`` is ``-(2^2)``), then
numbers, sub-grader names, ``( expr )`` and calls of min max abs floor ceil exp sqrt log.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal

MAX_FORMULA_LENGTH = 10_000
# Recursion in the parser happens only for parentheses, calls, unary signs and ``^`` chains;
# the cap keeps a hostile formula from reaching Python's recursion limit.
MAX_NESTING = 100

FUNCTIONS: dict[str, tuple[int, int | None, Callable[..., float]]] = {
    # name: (fewest args, most args or None for any, implementation)
    "min": (1, None, lambda *xs: min(xs)),
    "max": (1, None, lambda *xs: max(xs)),
    "abs": (1, 1, abs),
    "floor": (1, 1, lambda x: float(math.floor(x))),
    "ceil": (1, 1, lambda x: float(math.ceil(x))),
    "exp": (1, 1, math.exp),
    "sqrt": (1, 1, math.sqrt),
    "log": (1, 1, math.log),
}


class FormulaError(ValueError):
    """The formula is not valid: a validation error with the 0-based position of the fault."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at position {position}")
        self.reason = message
        self.position = position


class FormulaEvalError(ArithmeticError):
    """The formula is valid but these values have no result (division by zero, log(0), ...)."""


TokenKind = Literal["number", "name", "op", "lparen", "rparen", "comma", "end"]


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    text: str
    position: int


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_FORMULA_LENGTH:
        raise FormulaError(f"formula longer than {MAX_FORMULA_LENGTH} characters", 0)
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\r\n":
            i += 1
        elif ch.isascii() and (ch.isdigit() or (ch == "." and i + 1 < n and text[i + 1].isdigit())):
            start = i
            while i < n and text[i].isascii() and text[i].isdigit():
                i += 1
            if i < n and text[i] == ".":
                i += 1
                while i < n and text[i].isascii() and text[i].isdigit():
                    i += 1
            if i < n and text[i] in "eE":
                j = i + 1
                if j < n and text[j] in "+-":
                    j += 1
                if j < n and text[j].isascii() and text[j].isdigit():
                    i = j
                    while i < n and text[i].isascii() and text[i].isdigit():
                        i += 1
            tokens.append(Token("number", text[start:i], start))
        elif ch.isascii() and (ch.isalpha() or ch == "_"):
            start = i
            while i < n and text[i].isascii() and (text[i].isalnum() or text[i] == "_"):
                i += 1
            tokens.append(Token("name", text[start:i], start))
        elif ch in "+-*/^":
            tokens.append(Token("op", ch, i))
            i += 1
        elif ch == "(":
            tokens.append(Token("lparen", ch, i))
            i += 1
        elif ch == ")":
            tokens.append(Token("rparen", ch, i))
            i += 1
        elif ch == ",":
            tokens.append(Token("comma", ch, i))
            i += 1
        else:
            raise FormulaError(f"unexpected character {ch!r}", i)
    tokens.append(Token("end", "", n))
    return tokens


@dataclass(frozen=True, slots=True)
class Number:
    value: float


@dataclass(frozen=True, slots=True)
class Name:
    name: str
    position: int


@dataclass(frozen=True, slots=True)
class Unary:
    op: str
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Call:
    function: str
    args: tuple[Node, ...]
    position: int


Node = Number | Name | Unary | Binary | Call
# Postfix instructions: (opcode, argument) with const/float, name/str, bin/operator,
# call/(function, argument count), neg and pos/None.
Program = tuple[tuple[str, Any], ...]

# Pratt binding powers: (left power, right power); right < left makes ``^`` right-associative.
_INFIX: dict[str, tuple[int, int]] = {"+": (10, 11), "-": (10, 11), "*": (20, 21), "/": (20, 21),
                                      "^": (40, 39)}
_PREFIX_POWER = 30


class _Parser:
    def __init__(self, tokens: list[Token], names: Collection[str] | None) -> None:
        self.tokens = tokens
        self.index = 0
        self.names = names
        self.depth = 0

    def peek(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def expect(self, kind: TokenKind, what: str) -> Token:
        token = self.peek()
        if token.kind != kind:
            found = token.text or "end of formula"
            raise FormulaError(f"expected {what}, found {found!r}", token.position)
        return self.take()

    def expression(self, min_power: int = 0) -> Node:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise FormulaError(f"formula nested deeper than {MAX_NESTING}", self.peek().position)
        left = self.prefix()
        while True:
            token = self.peek()
            if token.kind != "op":
                break
            left_power, right_power = _INFIX[token.text]
            if left_power < min_power:
                break
            self.take()
            left = Binary(token.text, left, self.expression(right_power))
        self.depth -= 1
        return left

    def prefix(self) -> Node:
        token = self.take()
        if token.kind == "number":
            value = float(token.text)
            if not math.isfinite(value):
                raise FormulaError(f"number {token.text} is out of range", token.position)
            return Number(value)
        if token.kind == "op" and token.text in "+-":
            return Unary(token.text, self.expression(_PREFIX_POWER))
        if token.kind == "lparen":
            inner = self.expression()
            self.expect("rparen", "')'")
            return inner
        if token.kind == "name":
            if self.peek().kind == "lparen":
                return self.call(token)
            if token.text in FUNCTIONS:
                raise FormulaError(f"function {token.text!r} needs arguments", token.position)
            if self.names is not None and token.text not in self.names:
                known = ", ".join(sorted(self.names)) or "none"
                raise FormulaError(
                    f"unknown name {token.text!r} (sub-graders: {known})", token.position
                )
            return Name(token.text, token.position)
        found = token.text or "end of formula"
        raise FormulaError(f"expected a number, a name or '(', found {found!r}", token.position)

    def call(self, name: Token) -> Node:
        if name.text not in FUNCTIONS:
            known = ", ".join(FUNCTIONS)
            raise FormulaError(f"unknown function {name.text!r} (known: {known})", name.position)
        self.expect("lparen", "'('")
        args: list[Node] = []
        if self.peek().kind != "rparen":
            args.append(self.expression())
            while self.peek().kind == "comma":
                self.take()
                args.append(self.expression())
        self.expect("rparen", "')' or ','")
        fewest, most, _ = FUNCTIONS[name.text]
        if len(args) < fewest or (most is not None and len(args) > most):
            wanted = f"{fewest}" if most == fewest else f"at least {fewest}"
            raise FormulaError(
                f"{name.text}() takes {wanted} argument(s), got {len(args)}", name.position
            )
        return Call(name.text, tuple(args), name.position)


@dataclass(frozen=True, slots=True)
class Formula:
    """A parsed formula, evaluated from a postfix program so evaluation never recurses."""

    text: str
    root: Node
    names: frozenset[str]
    program: Program

    def evaluate(self, values: Mapping[str, float]) -> float:
        return _run(self.program, values)


def parse_formula(text: str, names: Collection[str] | None = None) -> Formula:
    """Parse ``text``; with ``names``, a name outside them is a :class:`FormulaError`."""
    parser = _Parser(tokenize(text), names)
    if parser.peek().kind == "end":
        raise FormulaError("formula is empty", 0)
    root = parser.expression()
    trailing = parser.peek()
    if trailing.kind != "end":
        raise FormulaError(f"unexpected {trailing.text!r}", trailing.position)
    program = _compile(root)
    used = frozenset(str(arg) for op, arg in program if op == "name")
    return Formula(text=text, root=root, names=used, program=program)


def _compile(root: Node) -> Program:
    """Post-order walk with an explicit stack (left-deep ``a+a+...+a`` chains are long)."""
    out: list[tuple[str, Any]] = []
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if isinstance(node, Number):
            out.append(("const", node.value))
        elif isinstance(node, Name):
            out.append(("name", node.name))
        elif children_done:
            if isinstance(node, Unary):
                out.append(("neg" if node.op == "-" else "pos", None))
            elif isinstance(node, Binary):
                out.append(("bin", node.op))
            else:
                out.append(("call", (node.function, len(node.args))))
        else:
            stack.append((node, True))
            if isinstance(node, Unary):
                stack.append((node.operand, False))
            elif isinstance(node, Binary):
                stack.append((node.right, False))
                stack.append((node.left, False))
            else:
                stack.extend((arg, False) for arg in reversed(node.args))
    return tuple(out)


def _binary(op: str, a: float, b: float) -> float:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        if b == 0:
            raise FormulaEvalError("division by zero")
        return a / b
    # math.pow refuses what ** would turn into a complex number, e.g. (-8) ^ 0.5.
    return math.pow(a, b)


def _run(program: Program, values: Mapping[str, float]) -> float:
    stack: list[float] = []
    try:
        for op, arg in program:
            if op == "const":
                stack.append(arg)
            elif op == "name":
                if arg not in values:
                    raise FormulaEvalError(f"no value for {arg!r}")
                stack.append(float(values[arg]))
            elif op == "neg":
                stack.append(-stack.pop())
            elif op == "pos":
                pass
            elif op == "bin":
                b = stack.pop()
                a = stack.pop()
                stack.append(_binary(str(arg), a, b))
            else:
                function, count = arg
                args = stack[len(stack) - count :]
                del stack[len(stack) - count :]
                stack.append(float(FUNCTIONS[function][2](*args)))
    except (ValueError, OverflowError, ZeroDivisionError) as exc:
        raise FormulaEvalError(str(exc) or type(exc).__name__) from exc
    result = stack[-1]
    if not math.isfinite(result):
        raise FormulaEvalError(f"result is {result}")
    return result
