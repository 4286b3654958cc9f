"""Small SVG thumbnails for the mediacentre tiles, drawn from a resource's title and type.

The real GAR hosts the thumbnails it lists (``urlVignette`` points at its own host); the
testbed does the same with no stored image and no external asset: a coloured card with the
title's initials and the presentation type. Titles come from the catalogue, i.e. from
editors, so every text is XML-escaped and the document carries no script or link.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

_COLOURS = {"MAN": "#000091", "DIC": "#18753c", "MUL": "#a94645", "PRO": "#695240"}
#: Short labels that fit the card (the full ones are on the tile itself).
_SHORT = {"MAN": "manuel numérique", "DIC": "référence", "MUL": "multimédia",
          "PRO": "production pédagogique"}
_DEFAULT_COLOUR = "#3a3a3a"
SVG_TYPE = "image/svg+xml"
#: An SVG is a document: no script, no outside fetch, even when opened on its own.
SVG_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "public, max-age=3600",
}


def initials(title: str) -> str:
    """Up to two initials of the title's significant words (« Atlas de géographie » → AG)."""
    small = {"de", "du", "des", "la", "le", "les", "l", "d", "et", "à", "au", "aux", "pour"}
    words = [w for w in title.replace("'", " ").replace("’", " ").split()
             if w.lower() not in small and w[:1].isalnum()]
    return "".join(w[0].upper() for w in words[:2]) or "?"


def svg(title: str, presentation: str | None) -> bytes:
    """A 160×100 card: initials, and the presentation type's label below."""
    colour = _COLOURS.get(presentation or "", _DEFAULT_COLOUR)
    label = _SHORT.get(presentation or "", "ressource numérique")
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="160" height="100" '
        'viewBox="0 0 160 100" role="img">'
        f"<title>{escape(title)}</title>"
        f'<rect width="160" height="100" rx="6" fill="{colour}"/>'
        '<text x="80" y="58" font-family="sans-serif" font-size="36" font-weight="700" '
        f'fill="#ffffff" text-anchor="middle">{escape(initials(title))}</text>'
        '<text x="80" y="86" font-family="sans-serif" font-size="10" fill="#ffffff" '
        f'text-anchor="middle">{escape(label)}</text>'
        "</svg>"
    ).encode()
