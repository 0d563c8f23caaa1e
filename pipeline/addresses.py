"""One validator for e-mail addresses and one for mail domains, wherever an address is accepted:
settings (``PLUMM_INTAKE_ADDRESSES``, ``PLUMM_SENDER_ADDRESS``), rules files (accounts, therapists)
and every message we send (its sender and its one recipient).

Control characters are removed before anything else, so no value can add a header; the error
messages never repeat the value.
"""

from __future__ import annotations

from email.utils import getaddresses, parseaddr

# Characters no address we send to needs; some of them would end or extend a header.
_FORBIDDEN = frozenset('<>"(),;:\\[]')


class AddressError(ValueError):
    """Not one e-mail address (the message says what is wrong, never the value)."""


def _without_controls(value: str) -> str:
    return "".join(ch for ch in value if ch >= " " and ch != "\x7f").strip()


def mailbox(value: str) -> str:
    """The one address in ``value`` (bare, or as ``Name <address>``) as ``local@domain``.

    Refused: a list, anything that is not exactly one ``@`` between a local part and a domain
    (``localhost`` is one: letters are sent from such machines), whitespace or quoting inside the
    address. The case is kept (compare lower-cased).
    """
    cleaned = _without_controls(value)
    if "," in cleaned or ";" in cleaned or len(getaddresses([cleaned])) != 1:
        raise AddressError("must be one e-mail address")
    _, address = parseaddr(cleaned)
    local, at, domain = address.partition("@")
    if not at or not local or not domain.strip(".") or "@" in domain:
        raise AddressError("must be one e-mail address like name@example.org")
    if any(c.isspace() or c in _FORBIDDEN for c in address):
        raise AddressError("must be one e-mail address, without spaces or quoting")
    return address


def mail_domains(values: list[str]) -> list[str]:
    """Mail domains such as ``example.org`` (no ``@``), lower-cased; ``AddressError`` otherwise."""
    for domain in values:
        if "@" in domain or "." not in domain or any(c.isspace() for c in domain.strip()):
            raise AddressError("each domain must look like example.org (no @)")
    return [d.strip().lower().lstrip(".") for d in values]
