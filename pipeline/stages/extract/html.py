"""An HTML body or attachment as text: visible text only, hidden elements set aside.

``script``/``style`` are dropped; hidden elements (``hidden``, ``display:none``,
``visibility:hidden``, ``font-size:0``...) are removed and their text returned separately, and
Gmail/Apple quote blocks become ``>``-quoted lines so the history rules apply as for plain text.
"""

from __future__ import annotations

import html as html_lib
import re

import lxml.html
from inscriptis import Inscriptis
from inscriptis.model.config import ParserConfig

from pipeline.models import MessageUnreadable

_HIDDEN_STYLE = re.compile(
    r"(display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0+(\.0+)?\s*(px|pt|em|rem|%)?\s*(;|!|$)|"
    r"opacity\s*:\s*0+(\.0+)?\s*(;|!|$)|mso-hide\s*:\s*all)",
    re.I,
)
_DROPPED_TAGS = {"script", "style", "head", "title", "template", "meta", "link", "object", "embed", "iframe"}
_INSCRIPTIS_CONFIG = ParserConfig(display_links=False, display_images=False, table_cell_separator="  ")


def _is_quote_block(element: lxml.html.HtmlElement) -> bool:
    if element.tag != "blockquote":
        return False
    classes = (element.get("class") or "").split()
    return (element.get("type") or "").lower() == "cite" or "gmail_quote" in classes


def _inscriptis(element: lxml.html.HtmlElement) -> str:
    return Inscriptis(element, _INSCRIPTIS_CONFIG).get_text()


def html_to_text(html: str) -> tuple[str, list[str]]:
    """Visible text of an HTML body, and the text of its hidden elements.

    Quote blocks (Gmail ``blockquote.gmail_quote``, Apple ``blockquote type=cite``) are
    rendered as '>'-quoted lines so that the same history rules apply as for plain text.
    """
    hidden: list[str] = []
    html = html.strip()
    if not html:
        return "", hidden
    tree = _parse(html)
    try:
        _drop_invisible(tree, hidden)
        _quote_blocks_as_lines(tree)
        return _inscriptis(tree), hidden
    except MessageUnreadable:
        raise
    except RecursionError:
        raise MessageUnreadable("html-unparseable") from None
    except Exception:  # noqa: BLE001 - a rendering failure of one body is an outcome
        raise MessageUnreadable("html-unparseable") from None


def _parse(html: str) -> lxml.html.HtmlElement:
    try:
        if html.startswith("<?xml"):
            html = re.sub(r"^<\?xml[^>]*>", "", html, count=1)
        return lxml.html.document_fromstring(html)
    except Exception:  # noqa: BLE001 - lxml refuses some inputs (e.g. only a comment)
        try:
            return lxml.html.document_fromstring("<pre>" + html_lib.escape(html) + "</pre>")
        except Exception:  # noqa: BLE001
            raise MessageUnreadable("html-unparseable") from None


def _drop_invisible(tree: lxml.html.HtmlElement, hidden: list[str]) -> None:
    """Drop comments, scripts, styles and hidden elements; keep the text of what was hidden."""
    for element in list(tree.iter()):
        if not isinstance(element.tag, str):
            # comments and processing instructions: never shown
            if element.getparent() is not None:
                element.drop_tree()
            continue
        tag = element.tag.lower()
        if tag in _DROPPED_TAGS:
            if tag == "title":
                hidden.append(element.text_content())
            element.drop_tree()
            continue
        style = element.get("style") or ""
        if element.get("hidden") is not None or _HIDDEN_STYLE.search(style):
            text = element.text_content()
            if text.strip():
                hidden.append(text)
            if element.getparent() is not None:
                element.drop_tree()


def _quote_blocks_as_lines(tree: lxml.html.HtmlElement) -> None:
    # innermost first: a quote inside a quote becomes "> > " lines, as a plain-text reply shows it
    for element in reversed(list(tree.iter("blockquote"))):
        if not _is_quote_block(element) or element.getparent() is None:
            continue
        quoted = _inscriptis(element)
        pre = lxml.html.Element("pre")
        pre.text = "\n".join("> " + line for line in quoted.split("\n")) + "\n"
        pre.tail = element.tail
        element.getparent().replace(element, pre)
