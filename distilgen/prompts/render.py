"""THE prompt renderer: function source text in, system prompt out. Pure and deterministic.

The runtime (capture and dispatch) and the static side (`distilgen prompts`, `check`) both call
`render_prompt`, so the prompt a model was trained on can be proven identical to the one it is sent.
Bump RENDERER_VERSION whenever the output for the same input could change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from .._templates import render_template
from .. import _json
from .._hashes import sha256

if TYPE_CHECKING:  # rendering is given a FunctionSource; a warm `check` renders nothing
    from .source import FunctionSource

__all__ = ["RENDERER_VERSION", "render_prompt", "fingerprint", "fingerprint_json", "static_fingerprint", "render_code"]

RENDERER_VERSION = "2"
PROMPT_TEMPLATE = "prompt.txt"


def render_code(src: FunctionSource, *, include_body: bool = False) -> str:
    """The function as the model sees it: signature, docstring, and the body or `...`."""
    parts = [src.signature]
    if src.docstring:
        doc = src.docstring.replace('"""', '\\"\\"\\"')
        doc_lines = doc.splitlines()
        if len(doc_lines) == 1:
            parts.append(f'    """{doc}"""')
        else:
            parts.append('    """' + doc_lines[0])
            parts.extend(("    " + line) if line else "" for line in doc_lines[1:])
            parts.append('    """')
    if include_body and src.body:
        # source lines end at \n only (str.splitlines would also cut at a \f in a string literal)
        parts.extend(("    " + line) if line.strip() else "" for line in src.body.split("\n"))
    else:
        parts.append("    ...")
    return "\n".join(parts)


def render_prompt(src: FunctionSource, model_name: str, *, include_body: bool = False) -> str:
    """The system prompt for a function whose return model is called `model_name`."""
    return render_template(PROMPT_TEMPLATE, model=model_name, code=render_code(src, include_body=include_body)).rstrip("\n")


def fingerprint(prompt: str, schema: Mapping[str, Any]) -> str:
    """Hash of what a model is trained on: prompt, output schema and renderer version."""
    payload = _json.SORTED.encode({"prompt": prompt, "schema": schema, "renderer": RENDERER_VERSION})
    return "sha256:" + sha256(payload.encode("utf-8")).hexdigest()[:16]


def fingerprint_json(prompt: str, schema_json: str) -> str:
    """`fingerprint(prompt, schema)` for a schema spelled compact with keys sorted, without parsing
    it: the same bytes are hashed. The lock spells schemas in field order, so for a model whose
    fields are not alphabetical this misses and `check` falls back to `fingerprint` of the parsed
    schema (a json.loads of a few hundred bytes)."""
    payload = '{"prompt":' + _json.TEXT.encode(prompt) + ',"renderer":' + \
        _json.ASCII.encode(RENDERER_VERSION) + ',"schema":' + schema_json + "}"
    return "sha256:" + sha256(payload.encode("utf-8")).hexdigest()[:16]


def static_fingerprint(prompt: str, closure: str) -> str:
    """Hash of everything the prompt and the answer schema depend on, as read from source without
    importing: the prompt (the function's signature, docstring, body when shown, the model's name)
    and `closure`, the digest of the return model's class body and those of its bases and field
    types (`analysis.depends`). `check` recomputes it statically: a field edited three modules
    away changes it."""
    payload = "\0".join(("static", RENDERER_VERSION, closure, prompt))
    return "sha256:" + sha256(payload.encode("utf-8")).hexdigest()[:16]
