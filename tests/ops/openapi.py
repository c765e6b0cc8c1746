"""Check real HTTP answers against chatty/openapi.json (the published API reference).

`assert_documented(response)` takes a Django test client's response, finds its operation in
the document (method and path template), and fails unless the status is documented for it and
a JSON body validates against the documented schema (JSON Schema 2020-12, as OpenAPI 3.1 says).
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from chatty.reference import openapi_document

DOC_URI = "urn:chatty:openapi"


def _pointer(*parts: str) -> str:
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


@cache
def _registry() -> Registry:
    return Registry().with_resource(
        DOC_URI, Resource.from_contents(openapi_document(), default_specification=DRAFT202012)
    )


@cache
def _templates() -> list[tuple[re.Pattern[str], str]]:
    out = []
    # Literal paths before templated ones: /api/auth/check-auth is not /api/auth/{provider}.
    for template in sorted(openapi_document()["paths"], key=lambda t: t.count("{")):
        regex = re.sub(r"\\\{(\w+)\\\}", r"[^/]+", re.escape(template))
        out.append((re.compile(regex), template))
    return out


def template_for(path: str) -> str | None:
    for regex, template in _templates():
        if regex.fullmatch(path):
            return template
    return None


def _resolve_response(responses: dict[str, Any], status: str) -> tuple[dict[str, Any], list[str]]:
    """The response object for `status` and the JSON pointer parts where it lives."""
    doc = openapi_document()
    item = responses[status]
    if "$ref" in item:
        parts = item["$ref"].removeprefix("#/").split("/")
        node: Any = doc
        for part in parts:
            node = node[part]
        return node, parts
    return item, []


def validate_body(
    method: str, template: str, status: int, body: Any, *, content_type: str = "application/json"
) -> None:
    doc = openapi_document()
    operation = doc["paths"][template].get(method.lower())
    if operation is None:
        # A method the path does not have: the JSON 405 every path may answer.
        assert status == 405, f"{method} {template} is not in the API reference (answered {status})"
        operation = {"responses": {"405": {"$ref": "#/components/responses/MethodNotAllowed"}}}
    assert str(status) in operation["responses"], (
        f"{method} {template} answered {status}, which the API reference does not list "
        f"(it lists {sorted(operation['responses'])}): {body!r}"
    )
    response, parts = _resolve_response(operation["responses"], str(status))
    if not parts:
        parts = ["paths", template, method.lower(), "responses", str(status)]
    content = response.get("content", {})
    if content_type not in content:
        assert not content or body in (None, b"", ""), f"{method} {template} {status}: undocumented {content_type} body"
        return
    schema = {"$ref": DOC_URI + "#" + _pointer(*parts, "content", content_type, "schema")}
    validator = Draft202012Validator(schema, registry=_registry())
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    assert not errors, f"{method} {template} {status} does not match the API reference:\n" + "\n".join(
        f"  at {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors[:10]
    )


def assert_documented(response: Any) -> Any:
    """`response` (from django.test.Client) is what the reference says; returns its JSON body or None."""
    method = response.request["REQUEST_METHOD"]
    path = response.request["PATH_INFO"]
    template = template_for(path)
    assert template is not None, f"{path} is not in the API reference"
    content_type = response.get("Content-Type", "").split(";")[0].strip()
    if content_type == "application/json":
        body = json.loads(response.content)
        validate_body(method, template, response.status_code, body)
        return body
    text = response.content.decode() if content_type.startswith("text/") else response.content
    validate_body(method, template, response.status_code, text, content_type=content_type or "none")
    return None
