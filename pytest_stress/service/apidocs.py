"""The API reference page served at ``/docs``: the server's own OpenAPI schema as one HTML page,
rendered here, with no script and no external resource.

FastAPI's ``/docs`` (Swagger UI) and ``/redoc`` load their JavaScript and CSS from a CDN
(jsDelivr) and were blank offline (issue 30). No installed package carries those assets
(swagger-ui-bundle, redoc), and vendoring them would add over a megabyte of minified third-party
JavaScript to keep up to date for a page that only reads the schema; so this page shows what a reader needs
from it: each operation with its parameters, its request body's fields (type, enum, pattern,
bounds, description) and every status it answers with why, and the rules beyond the schema
(``x-server-checks``). It cannot send requests ("try it out"): curl does, with the examples in
docs/service.md. ``/openapi.json`` is the schema itself, for any OpenAPI tool.
"""
from __future__ import annotations

import html
import json
from typing import Any

__all__ = ["docs_page"]

_CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:1.5em;color:#222;max-width:1100px}
h1{font-size:1.3em} h2{font-size:1.05em;margin:1.6em 0 .3em;font-family:ui-monospace,monospace}
h3{font-size:.9em;margin:.8em 0 .2em;color:#444} table{border-collapse:collapse;width:100%;margin:.2em 0}
th,td{border-bottom:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top;font-size:13px}
th{background:#f4f4f4} td{overflow-wrap:anywhere} code{font-size:12px} td:first-child code{white-space:nowrap}
.m{display:inline-block;min-width:4.5em;color:#fff;
border-radius:3px;padding:0 .4em;font-size:12px;text-align:center} .get{background:#0b57d0} .post{background:#176b2c}
.put{background:#8a6d00} .delete{background:#b3261e} .meta{color:#555}
section{border-top:1px solid #ccd;margin-top:1em}"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _ref(schema: dict[str, Any], ref: str) -> dict[str, Any]:
    node: Any = schema
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node


def _type(s: dict[str, Any]) -> str:
    """A property's schema in a few words: its type(s), enum, pattern and bounds."""
    if "$ref" in s:
        return s["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in s:
        out = " or ".join(_type(b) for b in s["anyOf"])
    elif s.get("type") == "array":
        out = f"list of {_type(s.get('items') or {})}"
    else:
        out = str(s.get("type", "any"))
    if s.get("format"):
        out += f" ({s['format']})"
    if "enum" in s:
        out += ": one of " + ", ".join(json.dumps(v) for v in s["enum"])
    if "pattern" in s:
        out += f", matching {s['pattern']}"
    bounds = [f"{k} {s[k]}" for k in ("minimum", "exclusiveMinimum", "maximum", "minLength", "maxLength", "minItems",
                                      "maxItems") if k in s]
    return out + (f" [{', '.join(bounds)}]" if bounds else "")


def _properties(schema: dict[str, Any], model: dict[str, Any]) -> str:
    required = set(model.get("required", []))
    rows = [f"<tr><td><code>{_e(k)}</code>{' (required)' if k in required else ''}</td><td>{_e(_type(v))}</td>"
            f"<td>{_e(v.get('description', ''))}</td></tr>" for k, v in model.get("properties", {}).items()]
    extra = ""
    if model.get("oneOf"):   # the request's forms: each with its required fields and its parameters
        forms = []
        for b in model["oneOf"]:
            params = ((b.get("properties") or {}).get("parameters") or {}).get("anyOf", [{}])[0].get("properties")
            forms.append(f"<li>{_e(b.get('title') or ' and '.join(b.get('required', [])))}"
                         + (": parameters " + ", ".join(f"<code>{_e(k)}</code> ({_e(_type(v))})"
                                                        for k, v in params.items()) if params else "") + "</li>")
        extra = "<p class='meta'>exactly one of:</p><ul class='meta'>" + "".join(forms) + "</ul>"
    return ("<table><tr><th>field</th><th>type</th><th>what</th></tr>" + "".join(rows) + "</table>" + extra
            if rows else extra)


def _operation(schema: dict[str, Any], path: str, method: str, op: dict[str, Any]) -> str:
    out = [f'<h2><span class="m {method}">{method.upper()}</span> {_e(path)}</h2>',
           f"<p>{_e(op.get('summary', ''))}</p>"]
    about = (op.get("description") or "").split("Checked by the server")[0].strip()   # the rules: a table, below
    if about:
        out.append(f"<p class='meta'>{_e(about)}</p>")
    params = op.get("parameters", [])
    if params:
        out.append("<h3>parameters</h3><table><tr><th>name</th><th>in</th><th>type</th><th>what</th></tr>" + "".join(
            f"<tr><td><code>{_e(p['name'])}</code>{' (required)' if p.get('required') else ''}</td><td>{_e(p['in'])}"
            f"</td><td>{_e(_type(p.get('schema', {})))}</td><td>{_e(p.get('description', ''))}</td></tr>"
            for p in params) + "</table>")
    body = (op.get("requestBody") or {}).get("content", {}).get("application/json", {}).get("schema")
    if body is not None:
        name = body["$ref"].rsplit("/", 1)[-1] if "$ref" in body else None
        out.append(f"<h3>body (JSON{': ' + _e(name) if name else ''})</h3>")
        out.append(_properties(schema, _ref(schema, body["$ref"])) if name else
                   f"<p class='meta'>{_e(op['requestBody'].get('description', 'any JSON'))}</p>")
    checks = op.get("x-server-checks")
    if checks:
        out.append("<h3>checked by the server beyond this schema (each a 422 naming the field)</h3><table>" + "".join(
            f"<tr><td><code>{_e(k)}</code></td><td>{_e(v)}</td></tr>" for k, v in checks.items()) + "</table>")
    out.append("<h3>answers</h3><table>" + "".join(
        f"<tr><td>{_e(code)}</td><td>{_e(r.get('description', ''))}</td>"
        f"<td>{_e(', '.join(r.get('content', {})))}</td></tr>" for code, r in sorted(op.get("responses", {}).items()))
        + "</table>")
    return "<section>" + "".join(out) + "</section>"


def docs_page(schema: dict[str, Any]) -> str:
    """The reference page of an OpenAPI schema (a dict, as ``FastAPI.openapi()`` returns it)."""
    info = schema.get("info", {})
    ops = [_operation(schema, path, method, op) for path, item in schema.get("paths", {}).items()
           for method, op in item.items() if method in ("get", "post", "put", "delete", "patch")]
    models = "".join(f"<h2>{_e(name)}</h2>{_properties(schema, m)}" for name, m in
                     schema.get("components", {}).get("schemas", {}).items() if m.get("properties"))
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{_e(info.get('title', 'API'))} "
            f"- API reference</title><link rel='icon' href='data:,'><style>{_CSS}</style></head><body>"
            f"<h1>{_e(info.get('title', 'API'))} {_e(info.get('version', ''))}: API reference</h1>"
            f"<p class='meta'>{_e(info.get('description', ''))} The schema itself: <a href='/openapi.json'>"
            f"/openapi.json</a>. This page is rendered by the server from it, with no script (it cannot send "
            f"requests; docs/service.md has curl examples).</p>" + "".join(ops)
            + f"<section><h1>Models</h1>{models}</section></body></html>")
