"""A form's tick boxes, read as the form means them: only the ticked options are its answers.

"Frequency ☐ Weekly ☒ Fortnightly ☐ Monthly" says fortnightly; "Extension requested ☐ Yes ☒ No"
says no. :func:`answered` blanks every option whose box is left empty (from its box to the next box
or the end of the line) and writes a ticked box that follows a row's label as that label's colon
("Extension requested : Yes"), so the headings, fields and cues read the row as they read any
"Label: answer" line. Offsets are kept (every replacement has the length of what it replaces), so a
unit still quotes the letter where it was. The boxes, as written, are data (``checkboxes`` in
``rules/sections.yaml``).
"""

from __future__ import annotations

import re


def answered(text: str, boxes: re.Pattern[str] | None) -> str:
    """``text`` with the options of empty boxes blanked and ticked boxes after a label made colons;
    the text itself when it has no box."""
    if boxes is None or not boxes.search(text):
        return text
    out = []
    for line in text.splitlines(keepends=True):
        found = list(boxes.finditer(line))
        if not found:
            out.append(line)
            continue
        body = line.rstrip("\r\n")
        chars = list(line)
        for i, box in enumerate(found):
            end = found[i + 1].start() if i + 1 < len(found) else len(body)
            if box.groupdict().get("unticked") is not None:
                chars[box.start() : end] = " " * (end - box.start())
            else:
                labelled = bool(body[: box.start()].strip(" \t:-–")) and i == _first_ticked(found)
                mark = ":" if labelled and not body[: box.start()].rstrip().endswith(":") else " "
                chars[box.start() : box.end()] = mark + " " * (box.end() - box.start() - 1)
        out.append("".join(chars))
    return "".join(out)


def _first_ticked(found: list[re.Match[str]]) -> int:
    return next((i for i, box in enumerate(found) if box.groupdict().get("unticked") is None), -1)
