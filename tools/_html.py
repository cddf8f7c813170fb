"""Readable text from HTML: the title, and the words a person would read, one block a line."""

from __future__ import annotations

import re

__all__ = ["readable_text"]

_HIDDEN = (
    "title",
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "canvas",
    "iframe",
    "head",
    "form",
)
_CHROME = ("nav", "footer", "aside")
_BLOCKS = (
    *("p", "div", "section", "article", "header", "main", "blockquote", "pre", "figure"),
    *("h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl", "dt", "dd"),
    *("table", "tr", "td", "th", "caption", "hr"),
)
_BLANKS = re.compile(r"[ \t\r\f\v\u00a0]+")
_LINES = re.compile(r"\n\s*\n+")


def readable_text(html: bytes, charset: str | None = None) -> tuple[str | None, str]:
    r"""The page title (None if it has none) and its visible text.

    Scripts, styles, forms and navigation are dropped; blocks are separated by newlines and
    runs of spaces collapsed.

    Example:
        >>> readable_text(b"<title> Hi </title><p>One <b>two</b></p><script>x()</script><p>3</p>")
        ('Hi', 'One two\n3')
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser", from_encoding=charset)
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    main = soup.find("main") or soup.find("article") or soup.body or soup
    for tag in main.find_all([*_HIDDEN, *_CHROME]):
        tag.decompose()
    for tag in main.find_all("br"):
        tag.replace_with("\n")
    for tag in main.find_all(_BLOCKS):
        tag.insert_before("\n")
        tag.append("\n")
    text = main.get_text("")
    lines = (_BLANKS.sub(" ", line).strip() for line in text.splitlines())
    joined = "\n".join(line for line in lines if line)
    return title or None, _LINES.sub("\n", joined)
