"""JSON Schemas of the case and of the decision, and the service's OpenAPI document.

The case schema is the one ``rxpolicy schema case`` prints, made from the facts a policy declares in its
rule files, so it cannot drift from what the loader accepts. The decision schema describes ``rxpolicy eval --format json`` and its lean subset.
Both are tested against real requests and responses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rxpolicy.engine.compile import ENGINE_VERSION, CompiledPolicy
from rxpolicy.language.facts_publish import case_json_schema as publish_case_schema

__all__ = ["case_json_schema", "decision_json_schema", "openapi_document"]

def case_json_schema(policy: CompiledPolicy) -> dict[str, Any]:
    """The JSON Schema (2020-12) of a case of ``policy``: the facts its rule files declare, and its plans.

    One place makes it, :func:`rxpolicy.language.facts_publish.case_json_schema` (also ``rxpolicy schema case``).
    """
    return publish_case_schema(policy.facts, title=f"rxpolicy case ({policy.name})", plans=policy.plans)


_DATE = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
_VALUE = {"description": "the decided value: yes/no, a number, money as a two-decimal string, a date, a duration "
                         "such as \"1 month\", a list, or null for not applicable",
          "type": ["boolean", "number", "string", "array", "null"]}
_RULE_REF = {"rule": {"type": "string"}, "source": {"type": "string"}, "layer": {"type": "string"},
             "line": {"type": "string"}, "explanation": {"type": ["string", "null"]},
             "rejection_code": {"type": "string"}, "interpretation": {"type": ["string", "boolean"]}}


def decision_json_schema() -> dict[str, Any]:
    """The JSON Schema of a decision: ``rxpolicy eval --format json`` (``explain=true``) and its lean subset."""
    reason = {"type": "object", "required": ["rule", "source", "layer"],
              "properties": {**_RULE_REF, "because": {"type": "array", "items": {"type": "string"}}}}
    decision = {"type": "object", "required": ["value"],
                "properties": {"value": _VALUE, **_RULE_REF,
                               "because": {"type": "array", "items": {"type": "string"}},
                               "computation": {"type": "array"}, "rules": {"type": "array"},
                               "alternatives": {"type": "array", "items": {"type": "string"}},
                               "overridden": {"type": "array", "items": {
                                   "type": "object", "required": ["rule", "by"],
                                   "properties": {"rule": {"type": "string"},
                                                  "by": {"type": "array", "items": {"type": "string"}}}}}}}
    receipt = {"type": "object",
               "required": ["engine_version", "policy_fingerprint", "grammar_sha256", "rule_files", "case_sha256"],
               "properties": {"engine_version": {"type": "string"},
                              "policy_fingerprint": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                              "grammar_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                              "rule_files": {"type": "object", "additionalProperties": {"type": "string"}},
                              "case_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "rxpolicy decision", "type": "object",
            "required": ["schema_version", "policy", "dispensed_on", "decisions", "receipt"],
            "properties": {
                "schema_version": {"const": 1}, "policy": {"type": "string"}, "dispensed_on": _DATE,
                "outcome": {"enum": ["covered", "not_covered"]},
                "reasons": {"type": "array", "items": reason},
                "decisions": {"type": "object", "additionalProperties": decision},
                "what_would_change": {"type": "array"},
                "receipt": receipt}}


def diagnostic_json_schema() -> dict[str, Any]:
    """The JSON Schema of one diagnostic as the service sends it."""
    return {"type": "object", "required": ["code", "severity", "message", "text"],
            "properties": {"code": {"type": "string", "pattern": "^RX\\d{3}$"},
                           "severity": {"enum": ["error", "warning"]}, "message": {"type": "string"},
                           "file": {"type": "string"}, "line": {"type": "integer", "minimum": 1},
                           "column": {"type": "integer", "minimum": 1}, "end_line": {"type": "integer"},
                           "end_column": {"type": "integer"}, "field": {"type": "string"},
                           "fix": {"type": "string"}, "related": {"type": "array"},
                           "notes": {"type": "array", "items": {"type": "string"}},
                           "text": {"type": "string"}}}


def _json(schema_ref: str) -> Mapping[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}}


def _error_response(what: str) -> dict[str, Any]:
    return {"description": what, "content": _json("Error")}


def openapi_document(default: CompiledPolicy) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the service (it embeds the case schema of ``default``, the decision's and the
    diagnostic's)."""
    policy = {"name": "policy", "in": "query", "schema": {"type": "string", "default": "hollandzorg"},
              "description": "a served policy, or `name-YYYY` for its rules of that year"}
    lang = {"name": "lang", "in": "query", "schema": {"enum": ["en", "nl"], "default": "en"}}
    explain = {"name": "explain", "in": "query", "schema": {"type": "boolean", "default": True},
               "description": "true: the full explanation (as `rxpolicy eval --format json`); false: values, "
                              "deciding rules and receipt only (faster)"}
    why_not = {"name": "why_not", "in": "query", "schema": {"type": "boolean", "default": False},
               "description": "with explain=true, for a case that is not covered: also search the smallest changes "
                              "of facts that would make it covered (`what_would_change`)"}
    errors = {"400": _error_response("bad request: the case or a parameter, with located RX messages"),
              "413": _error_response("request body too large (RX901)"),
              "422": _error_response("the policy cannot decide the case on its date (RX5xx)"),
              "503": _error_response("the work took longer than the service allows (RX904)")}
    error = {"type": "object", "required": ["error", "diagnostics"],
             "properties": {"error": {"type": "string"},
                            "diagnostics": {"type": "array", "items": {"$ref": "#/components/schemas/Diagnostic"}}}}
    plain = {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}}
    case_body = {"required": True, "content": {**_json("Case"), "application/yaml": {"schema": {"type": "string"}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "rxpolicy decision service", "version": ENGINE_VERSION,
                 "description": "Evaluates Dutch basic health insurance (Zvw) medicine rules on dispensing cases, "
                                "with explanations. Every response carries the engine version and the rules' "
                                "fingerprint (headers `RxPolicy-Engine-Version`, `RxPolicy-Rules-Fingerprint`)."},
        "paths": {
            "/v1/evaluate": {"post": {
                "summary": "Evaluate one case", "parameters": [policy, lang, explain, why_not], "requestBody": case_body,
                "responses": {"200": {"description": "the decision", "content": _json("Decision")}, **errors}}},
            "/v1/batch": {"post": {
                "summary": "Evaluate cases, one JSON object a line (JSON Lines in, JSON Lines out, streamed)",
                "parameters": [policy, lang, {**explain, "schema": {"type": "boolean", "default": False}}],
                "requestBody": {"required": True, "content": {"application/x-ndjson": {"schema": {"type": "string"}}}},
                "responses": {"200": {"description": "one line per input line: {line, decision} or "
                                                     "{line, code, field, message}",
                                      "content": {"application/x-ndjson": {"schema": {"type": "string"}}}},
                              **errors}}},
            "/v1/check": {"post": {
                "summary": "Check edited copies of a policy's rule files; evaluate a case with them when they check",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["policy", "files"],
                    "properties": {"policy": {"type": "string"},
                                   "files": {"type": "object", "additionalProperties": {"type": "string"}},
                                   "case": {"$ref": "#/components/schemas/Case"},
                                   "case_yaml": {"type": "string", "description": "the case as YAML instead"},
                                   "lang": {"enum": ["en", "nl"]}}}}}},
                "responses": {"200": {"description": "diagnostics as data, and the decision when asked and clean",
                                      "content": {"application/json": {"schema": {"type": "object", "properties": {
                                          "ok": {"type": "boolean"},
                                          "diagnostics": {"type": "array",
                                                          "items": {"$ref": "#/components/schemas/Diagnostic"}},
                                          "decision": {"$ref": "#/components/schemas/Decision"}}}}}},
                              **errors}}},
            "/v1/policies": {"get": {"summary": "The served policies, their layers and periods", "responses": plain}},
            "/v1/policies/{name}/files": {"get": {
                "summary": "The rule files of a policy and its layers",
                "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": plain}},
            "/v1/diff": {
                "get": {"summary": "The decisions that change between two policies or dates (`rxpolicy diff`)",
                        "parameters": [{"name": "old", "in": "query", "required": True, "schema": {"type": "string"}},
                                       {"name": "new", "in": "query", "required": True, "schema": {"type": "string"}}],
                        "responses": {**plain, **errors}},
                "post": {"summary": "The same, on the case sent",
                         "parameters": [{"name": "old", "in": "query", "required": True, "schema": {"type": "string"}},
                                        {"name": "new", "in": "query", "required": True, "schema": {"type": "string"}}],
                         "requestBody": case_body, "responses": {**plain, **errors}}},
            "/v1/reload": {"post": {"summary": "Read, check and compile the rules again; the old ones keep serving "
                                               "when the new ones do not check", "responses": plain}},
            "/v1/schemas/case": {"get": {"summary": "JSON Schema of a case of a policy (its declared facts)",
                                         "parameters": [policy], "responses": plain}},
            "/v1/schemas/decision": {"get": {"summary": "JSON Schema of a decision", "responses": plain}},
            "/healthz": {"get": {"summary": "The process is up", "responses": plain}},
            "/readyz": {"get": {"summary": "Policies are loaded and serving", "responses": plain}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text"}}}},
        },
        "components": {"schemas": {"Case": case_json_schema(default), "Decision": decision_json_schema(),
                                   "Diagnostic": diagnostic_json_schema(), "Error": error}},
    }
