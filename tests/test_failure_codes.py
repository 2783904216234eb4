"""Repository rule: every failure code a source file names is in the registry ``certify_common.codes``."""

from __future__ import annotations

import ast
from pathlib import Path

from certify_circular.nag import RESULT_CODES
from certify_common.codes import FailureCode, registered
from certify_common.x402_wire import INVALID_PAYLOAD, INVALID_VERSION, UNSUPPORTED_SCHEME
from certify_testkit.paths import repo_root
from certify_x402.verification import SDK_REASONS

ROOT = repo_root()
SOURCES = sorted([*ROOT.glob("libs/*/src/**/*.py"), *ROOT.glob("services/*/src/**/*.py")])
#: Callables whose first argument (or ``code=``) is a failure code: the builders and the modules' thin wrappers.
BUILDERS = {
    "failure",
    "Failure",
    "api_error",
    "nag_failure",  # circular
    "_invalid",  # x402 verification verdicts
    "_retryable",  # x402 facilitator
    "_pending",  # x402 settlement
    "NotPaid",  # x402 resolution from chain
}


def _callee(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    return node.func.attr if isinstance(node.func, ast.Attribute) else None


def _literal_codes(path: Path) -> list[tuple[str, int]]:
    codes: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call) or _callee(node) not in BUILDERS:
            continue
        arguments = [*node.args[:1], *(keyword.value for keyword in node.keywords if keyword.arg == "code")]
        codes.extend(
            (argument.value, node.lineno)
            for argument in arguments
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str)
        )
    return codes


def test_every_literal_code_passed_to_a_failure_builder_is_registered() -> None:
    unregistered = [
        f"{path.relative_to(ROOT)}:{line}: {code}"
        for path in SOURCES
        for code, line in _literal_codes(path)
        if registered(code) is None
    ]
    assert unregistered == []


def test_the_scan_finds_the_codes_of_every_service() -> None:
    # Guards the scan itself: a renamed builder would otherwise make the rule above pass on nothing.
    seen = {code for path in SOURCES for code, _ in _literal_codes(path)}
    assert {"invalid_request", "nonce_already_used", "price_unavailable", "empty_data", "wallet_busy"} <= seen


def test_codes_held_in_tables_are_registered() -> None:
    tabled = {
        *SDK_REASONS.values(),
        *(code for code, *_ in RESULT_CODES.values()),
        INVALID_PAYLOAD,
        INVALID_VERSION,
        UNSUPPORTED_SCHEME,
    }
    assert {code for code in tabled if registered(code) is None} == set()


def test_every_registered_code_is_snake_case_with_an_error_status() -> None:
    assert [code for code in FailureCode if not code.value.replace("_", "").isalnum() or code != code.lower()] == []
    assert all(400 <= code.http_status < 600 for code in FailureCode)
