"""The published JSON Schema is the model's, and proofs validate against it."""

from __future__ import annotations

import json
from collections.abc import Callable

import jsonschema
import pytest
from pydantic import ValidationError

from certify_client.proof import Proof, generated_schema, load_proof, published_schema
from certify_client.schema import render


def test_the_published_schema_file_is_generated_from_the_model() -> None:
    assert published_schema() == generated_schema()
    assert json.dumps(published_schema(), indent=2, sort_keys=True) + "\n" == render()


def test_a_proof_validates_against_the_published_schema(make_proof: Callable[..., Proof]) -> None:
    document = json.loads(make_proof().to_json())
    jsonschema.Draft202012Validator.check_schema(published_schema())
    jsonschema.validate(document, published_schema(), cls=jsonschema.Draft202012Validator)
    assert document["format"] == "certify-proof"
    assert document["version"] == 1
    assert set(document["transaction"]) == {
        "ID",
        "Blockchain",
        "From",
        "To",
        "Timestamp",
        "Payload",
        "Nonce",
        "Signature",
        "Type",
        "PublicKey",
    }


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("version",), 2),
        (("format",), "something-else"),
        (("document", "sha256"), "not-hex"),
        (("transaction", "PublicKey"), "02" + "ab" * 32),
        (("transaction", "Type"), "C_TYPE_REGISTERWALLET"),
        (("certification", "extra_field"), "x"),
    ],
)
def test_the_schema_and_the_model_refuse_the_same_malformed_proofs(
    make_proof: Callable[..., Proof], path: tuple[str, ...], value: object
) -> None:
    document = json.loads(make_proof().to_json())
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, published_schema(), cls=jsonschema.Draft202012Validator)
    with pytest.raises(ValidationError):
        load_proof(json.dumps(document))


def test_a_proof_round_trips_through_its_json(make_proof: Callable[..., Proof]) -> None:
    proof = make_proof()
    assert load_proof(proof.to_json()) == proof
