"""The OpenAPI document tells the truth about errors: every error status carries the app's own error body."""

from __future__ import annotations

import json
from typing import Any

from certify_proxy.app import create_app
from certify_proxy.settings import ProxySettings


def _document() -> dict[str, Any]:
    return create_app(ProxySettings(certify_env="test")).openapi()


def test_no_operation_promises_fastapis_validation_error_shape() -> None:
    # The app answers invalid input with {code, message, retryable, details}, never FastAPI's {"detail": [...]}.
    assert "HTTPValidationError" not in json.dumps(_document())


def test_every_error_status_of_every_operation_is_the_error_body_or_the_offer() -> None:
    undeclared = []
    for path, operations in _document()["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) < 400 or path in ("/readyz", "/health"):
                    continue
                schema = response["content"]["application/json"]["schema"]
                refs = [schema.get("$ref")] + [choice.get("$ref") for choice in schema.get("anyOf", [])]
                expected = "#/components/schemas/ErrorBody"
                if expected not in refs or (status == "402") != ("#/components/schemas/PaymentRequiredBody" in refs):
                    undeclared.append(f"{method.upper()} {path} {status}")
    assert undeclared == []


def test_the_routes_behind_a_key_declare_401_and_the_paid_routes_402() -> None:
    paths = _document()["paths"]
    assert "401" in paths["/v1/quote"]["post"]["responses"]
    assert "401" in paths["/v1/status/{request_id}"]["get"]["responses"]
    assert {"402", "409", "413", "422", "429"} <= set(paths["/v1/certify"]["post"]["responses"])
    assert {"402", "404"} <= set(paths["/v1/pay/{request_id}"]["post"]["responses"])
    assert "503" in paths["/readyz"]["get"]["responses"]


def test_every_success_of_every_operation_declares_its_body() -> None:
    # JSON answers name their model; the page, QR images and the liveness probe declare their media types.
    bodiless = []
    for path, operations in _document()["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    continue
                content = response.get("content") or {}
                json_schema = (content.get("application/json") or {}).get("schema")
                if not content or ("application/json" in content and not json_schema):
                    bodiless.append(f"{method.upper()} {path} {status}")
    assert bodiless == []


def test_a_paid_submission_declares_the_status_document_for_200_and_202() -> None:
    paths = _document()["paths"]
    for path, method in (("/v1/certify", "post"), ("/v1/pay/{request_id}", "post")):
        responses = paths[path][method]["responses"]
        for status in ("200", "202"):
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/StatusDocument"}, (path, status)
