"""The Content-Security-Policy header, and templates that keep to it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

TEMPLATES = Path(settings.BASE_DIR) / "templates"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
STYLE_ATTRIBUTE = re.compile(r"\sstyle\s*=", re.I)


def _directives(policy: str) -> dict[str, list[str]]:
    parts = [part.strip().split() for part in policy.split(";") if part.strip()]
    return {part[0]: part[1:] for part in parts}


@pytest.mark.django_db
@pytest.mark.parametrize("url_name", ["login", "home", "account-tokens", "pilot-list"])
def test_every_page_has_a_policy_of_self_only(as_user, pm, url_name):
    response = as_user(pm).get(reverse(url_name))
    policy = _directives(response["Content-Security-Policy"])

    assert policy["default-src"] == ["'self'"]
    for directive in ("script-src", "style-src"):
        sources = policy[directive]
        assert sources[0] == "'self'"
        assert all(source.startswith("'nonce-") for source in sources[1:]), sources
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["font-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]


@pytest.mark.django_db
def test_nonce_changes_per_request(client):
    first = _directives(client.get(reverse("login"))["Content-Security-Policy"])
    second = _directives(client.get(reverse("login"))["Content-Security-Policy"])

    assert first["script-src"][1] != second["script-src"][1]


def test_api_errors_carry_the_policy_too(client):
    response = client.get("/api/v1/pilots/")

    assert "default-src 'self'" in response["Content-Security-Policy"]


def _template_files() -> list[Path]:
    return sorted(path for path in TEMPLATES.rglob("*.html"))


@pytest.mark.parametrize(
    "path", _template_files(), ids=lambda path: str(path.relative_to(TEMPLATES))
)
def test_templates_have_no_inline_code_without_a_nonce(path):
    text = path.read_text()
    without_nonce = [tag for tag in INLINE_SCRIPT.findall(text) if "csp_nonce" not in tag]

    assert without_nonce == [], "move the script to static/js/ or give it nonce=request.csp_nonce"
    assert EVENT_HANDLER.findall(text) == [], "inline event handlers never run under the CSP"
    assert STYLE_ATTRIBUTE.findall(text) == [], "style attributes are refused: use a CSS class"
