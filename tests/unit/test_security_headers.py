"""The header sets of kernel/security_headers.py: what each policy allows, and that a
page's style hash is computed the way browsers compute it (CSP3 "hash-source")."""

from __future__ import annotations

from cache.pages import PAGE_HEADERS, Brand, environment, styles
from failover.status_page import STATUS_PAGE_HEADERS
from kernel.security_headers import OTHER_HEADERS, csp, page_csp, style_hashes

CSP = "Content-Security-Policy"


def directives(policy: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *values = part.split()
        assert name not in out, f"{name} twice"
        out[name] = values
    return out


def test_a_style_hash_is_the_base64_sha256_of_the_element_text_as_written() -> None:
    # sha256("") in base64, the empty stylesheet's hash in every CSP3 implementation.
    assert style_hashes("<style></style>") == (
        "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
    )
    assert style_hashes("<p>no style</p>") == ()
    assert len(set(style_hashes("<style>a{}</style><style>b{}</style>"))) == 2


def test_pages_may_load_nothing_but_their_own_style_and_may_not_be_framed() -> None:
    for headers in (PAGE_HEADERS, STATUS_PAGE_HEADERS):
        d = directives(headers[CSP])
        assert d["default-src"] == ["'none'"]
        assert d["frame-ancestors"] == ["'none'"]
        assert d["base-uri"] == ["'none'"]
        assert d["form-action"] == ["'self'"]
        assert d["connect-src"] == ["'self'"]  # /robots.txt for Lighthouse; no script runs
        assert d["img-src"] == ["data:"]
        # The pages' stylesheet, and the form pages' (cache/pages.py styles); the
        # status page's one.
        assert len(d["style-src"]) == (2 if headers is PAGE_HEADERS else 1)
        assert all(h.startswith("'sha256-") for h in d["style-src"])
        assert "script-src" not in d
        assert "unsafe" not in headers[CSP]
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    # Each layout allows its own stylesheet only.
    assert PAGE_HEADERS[CSP] != STATUS_PAGE_HEADERS[CSP]
    assert PAGE_HEADERS[CSP] == csp(styles(environment(), Brand()))
    assert STATUS_PAGE_HEADERS[CSP] == page_csp("failover", "status.html")


def test_other_answers_may_load_nothing_and_may_not_be_framed() -> None:
    d = directives(OTHER_HEADERS[CSP])
    assert d == {"default-src": ["'none'"], "frame-ancestors": ["'none'"], "base-uri": ["'none'"]}
    assert OTHER_HEADERS["X-Content-Type-Options"] == "nosniff"
    assert OTHER_HEADERS["X-Frame-Options"] == "DENY"


def test_a_branded_logo_is_allowed_from_its_origin_only() -> None:
    policy = csp(["a{}"], img=["https://cdn.example.com"])
    assert directives(policy)["img-src"] == ["data:", "https://cdn.example.com"]
