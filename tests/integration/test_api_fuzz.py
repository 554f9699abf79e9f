"""Schemathesis against the live API's /openapi.json: every operation, with valid and
invalid inputs (a bounded run, as a real user), answers no 5xx, nothing the schema does not
describe (status, content type, body, headers), refuses invalid input with a 4xx, and
requires a token where the schema says it does.

Driven through schemathesis' Python API: its pytest plugin does not run under pytest 9.
"""

from __future__ import annotations

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.support.clients import register
from tests.support.figures import report_figure

# Examples per operation and generation mode: a bounded run inside the suite.
EXAMPLES = 25


def test_no_operation_answers_a_server_error_or_off_schema(api_url):
    with httpx.Client(base_url=api_url, timeout=30) as client:
        fuzzer = register(client, "fuzz")
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    failures, runs, unsatisfiable = {}, 0, []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            def call(case) -> None:
                with_token(case, fuzzer.auth)
                case.call_and_validate(
                    excluded_checks=[
                        # A well-formed value need not be a valid one: a cursor this API did
                        # not issue, an id nothing has, a username taken are refused (4xx).
                        schemathesis.checks.positive_data_acceptance
                    ]
                )

            runs += 1
            try:
                call()
            except Unsatisfiable:
                unsatisfiable.append(f"{mode.value} {operation.label}")  # nothing to vary
            except (Exception, BaseExceptionGroup) as error:  # noqa: BLE001 - reported below
                failures[f"{mode.value} {operation.label}"] = str(error)[:2000]
    report_figure(
        f"schemathesis: {runs} runs of up to {EXAMPLES} examples, {len(failures)} failed; "
        f"no invalid input to make for: {', '.join(unsatisfiable) or 'none'}"
    )
    assert runs >= 30
    assert failures == {}, "\n\n".join(f"{name}:\n{error}" for name, error in failures.items())


def with_token(case, auth: dict[str, str]) -> None:
    """The fuzzer's valid token in place of the one the case generated. It goes into the case
    itself, so the checks judge the request as sent: a token added only to the request made a
    case whose negation was "no Authorization header" look like invalid input accepted. A
    case without the header is sent without a token."""
    headers = dict(case.headers or {})
    if any(name.lower() == "authorization" for name in headers):
        case.headers = {
            name: value for name, value in headers.items() if name.lower() != "authorization"
        } | auth
