"""The `[branding]` section: what the customer pages carry of the company (issue 19).

The company's name, a logo (a URL, or a file the front door serves at /help/logo), the
accent colours, the footer's links (status page, privacy, contact), a message for the
outage banner, and a folder of templates that override the built-in ones.

Everything here ends up in a page, so it is checked hard: colours are `#rrggbb` only
(they go into the inline CSS) and the accent must be readable (WCAG AA, 4.5:1) against
white, and the dark-mode accent against the dark page; links are https:// or a path on
this site; texts are plain, printable and length-capped (autoescaped when rendered).
Files (the logo, the templates folder) are checked in `check_files`, once the config
file's folder is known: a relative path is read from it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Final, Self

from pydantic import AfterValidator, Field, StrictInt, StrictStr, model_validator

from failover.settings.validators import Loc, _invalid, _Section

# The page backgrounds the accents are drawn on (cache/templates/_style.css).
LIGHT_PAGE: Final = "#ffffff"
DARK_PAGE: Final = "#16181c"
AA: Final = 4.5  # WCAG 2.2 SC 1.4.3, normal text
LOGO_TYPES: Final = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
}
MAX_LOGO_BYTES: Final = 256 * 1024
_HEX: Final = re.compile(r"#[0-9a-fA-F]{6}")


def _luminance(colour: str) -> float:
    """Relative luminance (WCAG 2.2, "relative luminance") of `#rrggbb`."""
    channels = []
    for i in (1, 3, 5):
        c = int(colour[i : i + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    r, g, b = channels
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """The WCAG contrast ratio of two `#rrggbb` colours, 1 to 21."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _colour(value: str) -> str:
    if not _HEX.fullmatch(value):
        raise ValueError(f"must be a colour written #rrggbb (e.g. #0b57d0), got {value!r}")
    return value.lower()


def _plain(value: str) -> str:
    if any(not c.isprintable() for c in value):
        raise ValueError("must be plain text on one line (no control characters)")
    return value.strip()


def _link(value: str) -> str:
    """https:// on another site, or a path on this one; never javascript: or data:."""
    if any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError("a link must not contain whitespace or control characters")
    if value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    if value.startswith("https://") and len(value) > len("https://") and "@" not in value:
        return value
    raise ValueError(f"must be an https:// URL or a path starting with '/', got {value!r}")


Colour = Annotated[StrictStr, AfterValidator(_colour)]
Plain = Annotated[StrictStr, AfterValidator(_plain)]
Link = Annotated[StrictStr, Field(max_length=500), AfterValidator(_link)]
Label = Annotated[StrictStr, Field(min_length=1, max_length=40), AfterValidator(_plain)]
FOOTER_LINKS: Final = ("status", "privacy", "contact")


class BrandingSettings(_Section):
    company_name: Annotated[Plain, Field(max_length=60)] = Field(
        default="",
        description="the company's name, in every page's title and header; empty = none",
        examples=["Acme Telecom"],
    )
    logo_url: Link | None = Field(
        default=None,
        description="the logo, from an https:// URL or a path on this site; its alt text is "
        "company_name",
        examples=["https://www.example.com/logo.png"],
    )
    logo_file: StrictStr | None = Field(
        default=None,
        description="or the logo from a file (png, jpeg, webp, gif or svg, at most 256 KiB; "
        "a raster one at 3x logo_width x logo_height for sharp phones), served at /help/logo; "
        "a relative path is read from the config file's folder",
        examples=["logo.png"],
    )
    logo_width: Annotated[StrictInt, Field(ge=8, le=400)] = Field(
        default=120, description="the logo's width on the page, CSS pixels"
    )
    logo_height: Annotated[StrictInt, Field(ge=8, le=120)] = Field(
        default=32, description="the logo's height on the page, CSS pixels"
    )
    accent: Colour | None = Field(
        default=None,
        description="links and buttons, #rrggbb; must reach 4.5:1 against white "
        "(WCAG AA); absent = the built-in blue",
        examples=["#0b57d0"],
    )
    accent_dark: Colour | None = Field(
        default=None,
        description=f"the same in dark mode; must reach 4.5:1 against the dark page "
        f"({DARK_PAGE}); absent = the built-in light blue",
        examples=["#8ab4f8"],
    )
    status_url: Link | None = Field(
        default=None,
        description="the footer's status-page link",
        examples=["https://status.example.com"],
    )
    status_label: Label | None = Field(
        default=None, description="its text; absent = Service status", examples=["Service status"]
    )
    privacy_url: Link | None = Field(
        default=None,
        description="the footer's privacy link",
        examples=["https://www.example.com/privacy"],
    )
    privacy_label: Label | None = Field(
        default=None, description="its text; absent = Privacy", examples=["Privacy"]
    )
    contact_url: Link | None = Field(
        default=None, description="the footer's contact link", examples=["/support/contact"]
    )
    contact_label: Label | None = Field(
        default=None, description="its text; absent = Contact us", examples=["Contact us"]
    )
    message: Annotated[Plain, Field(max_length=200)] = Field(
        default="",
        description="a line for the outage banner (e.g. when the call centers are expected "
        "back); replaced at run time by PUT /admin/message",
        examples=["Our engineers expect the phones back by 18:00 UTC."],
    )
    templates_dir: StrictStr | None = Field(
        default=None,
        description="a folder of templates that override the built-in ones by name (the "
        "built-ins are the fallback); a relative path is read from the config file's folder",
        examples=["templates"],
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.logo_url is not None and self.logo_file is not None:
            raise _invalid(("logo_file",), "set logo_url or logo_file, not both")
        if (self.logo_url or self.logo_file) and not self.company_name:
            raise _invalid(
                ("company_name",), "a logo needs company_name: its text for screen readers"
            )
        for name in FOOTER_LINKS:
            if getattr(self, f"{name}_label") is not None and getattr(self, f"{name}_url") is None:
                raise _invalid((f"{name}_label",), f"a label needs {name}_url (the link's target)")
        for key, page in (("accent", LIGHT_PAGE), ("accent_dark", DARK_PAGE)):
            colour = getattr(self, key)
            if colour is not None and (ratio := contrast(colour, page)) < AA:
                raise _invalid(
                    (key,),
                    f"{colour} on {page} has a contrast of {ratio:.2f}:1, under the 4.5:1 "
                    "text needs (WCAG AA); pick a "
                    + ("darker" if page == LIGHT_PAGE else "lighter")
                    + " colour",
                )
        return self


def resolve(path: str, source: str) -> Path:
    """A path from the config file: a relative one is read from the file's folder."""
    p = Path(path)
    return p if p.is_absolute() else Path(source).parent / p


def check_files(branding: BrandingSettings, source: str) -> tuple[Loc, str] | None:
    """The first problem with the files the section names, or None."""
    if branding.templates_dir is not None:
        folder = resolve(branding.templates_dir, source)
        if not folder.is_dir():
            return ("branding", "templates_dir"), f"{folder} is not a folder"
    if branding.logo_file is not None:
        logo = resolve(branding.logo_file, source)
        if logo.suffix.lower() not in LOGO_TYPES:
            kinds = ", ".join(sorted(LOGO_TYPES))
            return ("branding", "logo_file"), f"{logo.name}: the file name must end {kinds}"
        try:
            size = logo.stat().st_size
        except OSError as exc:
            return ("branding", "logo_file"), f"cannot read {logo}: {exc.strerror}"
        if not logo.is_file() or size > MAX_LOGO_BYTES:
            return ("branding", "logo_file"), f"{logo} must be a file of at most 256 KiB"
    return None
