"""The OpenAPI document and the JSON Schemas of case and decision, checked against real requests and answers."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
import yaml

from .conftest import EXAMPLES, Server, case_json


@pytest.fixture(scope="module")
def schemas(server: Server) -> dict[str, Any]:
    return {"case": server.request("GET", "/v1/schemas/case").json,
            "decision": server.request("GET", "/v1/schemas/decision").json,
            "openapi": server.request("GET", "/openapi.json").json}


def test_the_schemas_are_valid_json_schemas(schemas: dict[str, Any]) -> None:
    for name in ("case", "decision"):
        jsonschema.Draft202012Validator.check_schema(schemas[name])
    components = schemas["openapi"]["components"]["schemas"]
    assert components["Case"] == schemas["case"] and components["Decision"] == schemas["decision"]
    for component in components.values():
        jsonschema.Draft202012Validator.check_schema(component)


def test_the_openapi_document_names_every_endpoint_the_service_answers(server: Server, schemas: dict[str, Any]) -> None:
    document = schemas["openapi"]
    assert document["openapi"].startswith("3.1")
    for path, operations in document["paths"].items():
        concrete = path.replace("{name}", "hollandzorg")
        for method in operations:
            answer = server.request(method.upper(), concrete, "{}" if method == "post" else None)
            # Reached the endpoint: never "no such endpoint" or "method not allowed".
            assert answer.status not in (404, 405), (method, path, answer.text[:200])
    # A reference to a component resolves.
    refs = {m.group(0) for m in __import__("re").finditer(r'#/components/schemas/\w+', json.dumps(document))}
    assert refs and all(ref.rsplit("/", 1)[1] in document["components"]["schemas"] for ref in refs)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_example_case_and_its_decision_match_the_schemas(server: Server, schemas: dict[str, Any],
                                                                example: Any) -> None:
    body = case_json(example)
    jsonschema.validate(json.loads(body), schemas["case"])
    for explain in ("true", "false"):
        answer = server.request("POST", f"/v1/evaluate?policy={example.parent.name}&explain={explain}&why_not=true",
                                body)
        assert answer.status == 200, answer.text[:500]
        jsonschema.validate(answer.json, schemas["decision"])


def test_the_error_answers_match_the_error_schema(server: Server, schemas: dict[str, Any]) -> None:
    error_schema = {**schemas["openapi"]["components"]["schemas"]["Error"],
                    "$defs": schemas["openapi"]["components"]["schemas"]}
    text = json.dumps(error_schema).replace("#/components/schemas/", "#/$defs/")
    for body in ('{"dispensed_on": "2025-03-14"}', "{", "[]"):
        answer = server.request("POST", "/v1/evaluate", body)
        assert answer.status == 400
        jsonschema.validate(answer.json, json.loads(text))


@pytest.mark.parametrize("change", [
    {"medicine": {"route": "by mouth"}}, {"insured": {"born_on": "1 May 1970"}}, {"unknown": 1},
    {"prescription": {"chronic": "sometimes"}}, {"medicine": {"atc": "N5"}}, {"dispensing": {"fees": {"delivery": "1.234"}}},
])
def test_the_case_schema_refuses_what_the_service_refuses(server: Server, schemas: dict[str, Any],
                                                          change: dict[str, Any]) -> None:
    case = yaml.safe_load(EXAMPLES[0].read_text())
    case = json.loads(json.dumps(case, default=str))
    for section, value in change.items():
        if isinstance(value, dict) and isinstance(case.get(section), dict):
            for key, inner in value.items():
                if isinstance(inner, dict):
                    case[section].setdefault(key, {}).update(inner)
                else:
                    case[section][key] = inner
        else:
            case[section] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(case, schemas["case"])
    assert server.request("POST", f"/v1/evaluate?policy={EXAMPLES[0].parent.name}", json.dumps(case)).status == 400
