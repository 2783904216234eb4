"""`certify verify` and friends as a user runs them: exit status and what is printed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from certify_client.cli import main, payer_key
from certify_client.proof import Proof

DOCUMENT = b"%PDF-1.7 a contract worth certifying\n"


@pytest.fixture
def files(tmp_path: Path, make_proof: Callable[..., Proof]) -> tuple[Path, Path]:
    document, proof = tmp_path / "contract.pdf", tmp_path / "proof.json"
    document.write_bytes(DOCUMENT)
    proof.write_text(make_proof(DOCUMENT).to_json())
    return document, proof


def test_verify_offline_accepts_the_proof_and_says_so(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", str(files[0]), str(files[1]), "--offline"]) == 0
    out = capsys.readouterr().out
    assert "VALID (offline)" in out
    assert "FAIL" not in out


def test_verify_rejects_an_altered_file_with_exit_status_1(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    files[0].write_bytes(DOCUMENT + b"tampered")
    assert main(["--json", "verify", str(files[0]), str(files[1]), "--offline"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["valid"] is False
    assert [reason.split(":")[0] for reason in result["reasons"]] == ["document"]


def _tamper(files: tuple[Path, Path], what: str) -> None:
    document, proof_path = files
    if what == "document":
        document.write_bytes(DOCUMENT.replace(b"contract", b"CONTRACT"))
        return
    proof = json.loads(proof_path.read_text())
    tx = proof["transaction"]
    if what == "signature":
        tx["Signature"] = tx["Signature"][:-4] + ("0000" if tx["Signature"][-4:] != "0000" else "1111")
    elif what == "id":
        tx["ID"] = proof["certification"]["tx_id"] = "ab" * 32
    elif what == "address":
        tx["From"] = tx["To"] = "cd" * 32
    proof_path.write_text(json.dumps(proof))


@pytest.mark.parametrize("what", ["document", "signature", "id", "address"])
def test_verify_rejects_each_alteration_and_names_the_failed_check(
    files: tuple[Path, Path], what: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _tamper(files, what)
    assert main(["verify", str(files[0]), str(files[1]), "--offline"]) == 1
    out = capsys.readouterr().out
    assert f"FAIL {what}:" in out
    assert out.rstrip().endswith("INVALID (offline)")


def test_verify_rejects_a_file_that_is_not_a_proof(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    files[1].write_text(json.dumps({"format": "certify-proof", "version": 1}))
    assert main(["verify", str(files[0]), str(files[1]), "--offline"]) == 1
    assert "not a certify proof" in capsys.readouterr().err


def test_verify_online_without_a_known_nag_is_a_usage_error(
    files: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CERTIFY_NAG_URL", raising=False)
    data = json.loads(files[1].read_text())
    data["certification"]["network"] = "devnet"
    files[1].write_text(json.dumps(data))
    assert main(["verify", str(files[0]), str(files[1])]) == 2


def test_schema_prints_the_published_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "certify-proof"


def test_the_payer_key_comes_from_the_environment_or_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CERTIFY_PAYER_KEY", "ab" * 32)
    monkeypatch.setenv("OTHER_KEY", "0x" + "cd" * 32)
    (tmp_path / "key").write_text("ef" * 32 + "\n")
    assert payer_key("env") == "ab" * 32
    assert payer_key("env:OTHER_KEY") == "0x" + "cd" * 32
    assert payer_key(f"file:{tmp_path / 'key'}") == "ef" * 32


def test_an_api_that_cannot_be_reached_fails_with_exit_status_1(
    files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CERTIFY_URL", "http://127.0.0.1:9")
    assert main(["quote", str(files[0])]) == 1
    assert capsys.readouterr().err.startswith("error: ConnectError")
