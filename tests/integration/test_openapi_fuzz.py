"""Schemathesis against the gateway's own OpenAPI schema: no 5xx, no schema violations."""

from __future__ import annotations

import subprocess

from gateway.serving.process import venv_bin
from tests.integration.conftest import RunningGateway, gateway_fixture

fuzzed_gateway = gateway_fixture("fuzz")


def test_generated_requests_get_no_server_errors_and_match_the_schema(
    fuzzed_gateway: RunningGateway,
) -> None:
    result = subprocess.run(
        [
            str(venv_bin() / "schemathesis"),
            "run",
            f"{fuzzed_gateway.url}/openapi.json",
            "--checks",
            "not_a_server_error,response_schema_conformance,status_code_conformance",
            "--max-examples",
            "40",
            "--seed",
            "1",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    summary = result.stdout[-3000:]
    assert result.returncode == 0, summary
    tested = [
        line
        for line in result.stdout.splitlines()
        if "generated" in line.lower() or "passed" in line.lower()
    ]
    assert tested, summary
