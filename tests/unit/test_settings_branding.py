"""[branding]: what a company puts on the customer pages, checked hard (issue 19)."""

from __future__ import annotations

from pathlib import Path

import pytest

from failover.settings import ConfigError, load_settings
from failover.settings.branding import contrast

CENTER = '[[callcenters]]\nname = "primary"\nurl = "http://127.0.0.1:9001"\n'


def problem(tmp_path: Path, branding: str) -> str:
    path = tmp_path / "switchboard.toml"
    path.write_text("[branding]\n" + branding + CENTER, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    text = str(caught.value)
    assert text.startswith(f"{path}: branding."), text
    return text


def test_the_contrast_ratio_is_wcag_s() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#ffffff", "#ffffff") == pytest.approx(1)
    assert contrast("#0b57d0", "#ffffff") == pytest.approx(6.4, abs=0.1)  # the built-in blue
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)  # the AA edge


def test_a_full_branding_section_loads(tmp_path: Path) -> None:
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(32))
    (tmp_path / "pages").mkdir()
    path = tmp_path / "switchboard.toml"
    path.write_text(
        '[branding]\ncompany_name = "Acme Telecom"\nlogo_file = "logo.png"\naccent = "#0B57D0"\n'
        'accent_dark = "#8ab4f8"\nstatus_url = "https://status.example.com"\n'
        'privacy_url = "/privacy"\nprivacy_label = "Your data"\ntemplates_dir = "pages"\n'
        'message = "  Back by 18:00 UTC.  "\n' + CENTER
    )
    b = load_settings(path, env={}).branding
    assert (b.company_name, b.accent, b.message) == (
        "Acme Telecom",
        "#0b57d0",
        "Back by 18:00 UTC.",
    )


@pytest.mark.parametrize(
    ("branding", "key", "reason"),
    [
        ('accent = "red"\n', "branding.accent", "#rrggbb"),
        ('accent = "#fff; }"\n', "branding.accent", "#rrggbb"),
        ('accent = "#ffff00"\n', "branding.accent", "1.07:1, under the 4.5:1"),
        ('accent_dark = "#0b57d0"\n', "branding.accent_dark", "under the 4.5:1"),
        ('status_url = "javascript:alert(1)"\n', "branding.status_url", "https:// URL or a path"),
        ('contact_url = "http://example.com"\n', "branding.contact_url", "https:// URL"),
        ('privacy_url = "//evil.example"\n', "branding.privacy_url", "https:// URL"),
        ('status_label = "Status"\n', "branding.status_label", "needs status_url"),
        ('message = "line\\nbreak"\n', "branding.message", "plain text"),
        (f'message = "{"x" * 201}"\n', "branding.message", "200"),
        ('logo_url = "https://cdn.example.com/l.png"\n', "branding.company_name", "screen readers"),
        (
            'company_name = "A"\ntemplates_dir = "nowhere"\n',
            "branding.templates_dir",
            "not a folder",
        ),
        ('company_name = "A"\nlogo_file = "logo.exe"\n', "branding.logo_file", "must end"),
        ('company_name = "A"\nlogo_file = "missing.png"\n', "branding.logo_file", "cannot read"),
    ],
)
def test_bad_branding_names_the_key_and_the_reason(
    tmp_path: Path, branding: str, key: str, reason: str
) -> None:
    text = problem(tmp_path, branding)
    assert f"{key}: " in text, text
    assert reason in text, text
