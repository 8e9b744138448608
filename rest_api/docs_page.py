"""The /docs page: every operation of the OpenAPI document as one self-contained HTML page.

Sites run offline, so the page loads no script, font or stylesheet from
anywhere: it is rendered once, on the server, from the document itself.
"""

from __future__ import annotations

from html import escape
from typing import Any

_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{margin-bottom:0}.intro{white-space:pre-wrap}
section{border-top:1px solid #ddd;padding:.5rem 0}
.method{display:inline-block;background:#2b6cb0;color:#fff;border-radius:3px;padding:0 .4rem;
font:600 13px monospace}code.path{font-size:15px;font-weight:600}
.desc{white-space:pre-wrap;color:#444}table{border-collapse:collapse;margin:.3rem 0}
td,th{border:1px solid #ddd;padding:.15rem .5rem;text-align:left;vertical-align:top;font-size:14px}
"""


def render_docs(document: dict[str, Any]) -> str:
    info = document["info"]
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{escape(info['title'])}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(info['title'])}</h1><p>version {escape(info['version'])}"
        " · <a href='/openapi.json'>openapi.json</a></p>",
        f"<p class=intro>{escape(info.get('description', ''))}</p>",
    ]
    for tag in document.get("tags", []):
        parts.append(f"<h2>{escape(tag['name'])}</h2>")
        for path, methods in document["paths"].items():
            for method, operation in methods.items():
                if tag["name"] in operation.get("tags", []):
                    parts.append(_operation(method, path, operation))
    parts.append("</body></html>")
    return "".join(parts)


def _operation(method: str, path: str, operation: dict[str, Any]) -> str:
    parts = [
        f"<section id='{escape(operation['operationId'])}'>",
        f"<span class=method>{escape(method.upper())}</span> <code class=path>{escape(path)}</code>",
        f"<p><b>{escape(operation.get('summary', ''))}</b></p>",
    ]
    if operation.get("description"):
        parts.append(f"<p class=desc>{escape(operation['description'])}</p>")
    parameters = operation.get("parameters", [])
    if parameters:
        parts.append("<table><tr><th>parameter</th><th>in</th><th>description</th></tr>")
        for param in parameters:
            required = " (required)" if param.get("required") else ""
            default = param["schema"].get("default")
            default_note = f" Default: {default}." if default is not None else ""
            parts.append(
                f"<tr><td><code>{escape(param['name'])}</code>{required}</td>"
                f"<td>{escape(param['in'])}</td>"
                f"<td>{escape(param.get('description', '') + default_note)}</td></tr>"
            )
        parts.append("</table>")
    responses = ", ".join(
        f"{escape(status)} {escape(response.get('description', ''))}"
        for status, response in operation["responses"].items()
    )
    parts.append(f"<p>Responses: {responses}</p></section>")
    return "".join(parts)
