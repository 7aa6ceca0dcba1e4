"""Schemathesis against the live server's OpenAPI document: no input yields a 5xx.

Positive and negative cases for every documented operation (status, metadata, predict with
and without versions / labels): generated model names, versions, labels and bodies are sent
over real HTTP. (Driven through Hypothesis directly: schemathesis' pytest plugin does not
run on pytest 9 yet.)
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

pytestmark = pytest.mark.timeout(240)

OPERATIONS = [
    ("GET", "/v1/models/{name}"),
    ("GET", "/v1/models/{name}/versions/{version}"),
    ("GET", "/v1/models/{name}/labels/{label}"),
    ("GET", "/v1/models/{name}/metadata"),
    ("GET", "/v1/models/{name}/versions/{version}/metadata"),
    ("GET", "/v1/models/{name}/labels/{label}/metadata"),
    ("POST", "/v1/models/{name}:predict"),
    ("POST", "/v1/models/{name}/versions/{version}:predict"),
    ("POST", "/v1/models/{name}/labels/{label}:predict"),
]
EXAMPLES_PER_OPERATION = 25


@pytest.fixture(scope="module")
def api_schema(server):
    return schemathesis.openapi.from_url(f"{server.rest_url}/openapi.json")


def test_every_operation_is_covered(api_schema):
    documented = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert documented == set(OPERATIONS)


@pytest.mark.parametrize(
    "mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"]
)
@pytest.mark.parametrize("method, path", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_server_errors(api_schema, method, path, mode):
    operation = api_schema[path][method]

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case):
        response = case.call_and_validate(
            checks=[not_a_server_error, status_code_conformance, content_type_conformance],
            timeout=30,
        )
        if response.status_code >= 400:
            assert isinstance(response.json().get("error"), str)

    check()


@pytest.mark.parametrize(
    "mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"]
)
@pytest.mark.parametrize("model", ["tabular", "images", "pair"])
def test_predict_bodies_against_real_models(api_schema, model, mode):
    """Same, with the model fixed so generated bodies reach the JSON/tensor conversion."""
    operation = api_schema["/v1/models/{name}:predict"]["POST"]
    strategy = operation.as_strategy(generation_mode=mode, path_parameters={"name": model})

    @settings(
        max_examples=40,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case):
        response = case.call_and_validate(checks=[not_a_server_error], timeout=30)
        assert response.status_code in (200, 400, 404, 413), response.text
        if response.status_code >= 400:
            assert isinstance(response.json().get("error"), str)

    check()
