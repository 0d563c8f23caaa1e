"""``plumm users ...``: the people who sign in to the web console, their role and accounts.

Passwords come on standard input (``--password-stdin``), never as an argument (it would stay in the
shell's history and the process list). Every change is an audit event naming the OS user who made it.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from pipeline import store
from pipeline.cli.common import State, csm_runtime, err, operator, out, password_from_stdin

users_app = typer.Typer(help="Console users: add, list, disable, set a password.", no_args_is_help=True)

PasswordStdin = Annotated[bool, typer.Option("--password-stdin", help="read the password from standard input")]


def _need_stdin(password_stdin: bool) -> str:
    if not password_stdin:
        err.print("the password is read from standard input: pass --password-stdin (e.g. `read -s P; echo $P | ...`)")
        raise typer.Exit(2)
    return password_from_stdin()


@users_app.command("add")
def users_add(
    name: str,
    role: Annotated[str, typer.Option(help="csm, lead, revealer or admin")],
    account: Annotated[list[str] | None, typer.Option(help="an account id a CSM looks after (repeat)")] = None,
    password_stdin: PasswordStdin = False,
) -> None:
    """Add a console user."""
    from pipeline import users

    password = _need_stdin(password_stdin)
    settings = State.settings()
    store.migrate(settings.effective_database_url)
    rt = csm_runtime(settings)
    try:
        user = users.add_user(
            rt.engine,
            name,
            role=role,
            accounts=account or [],
            known_accounts=[a.id for a in rt.accounts.accounts],
            password=password,
            by=operator().label,
        )
    except users.UserError as exc:
        err.print(f"refused: {exc}", markup=False)
        raise typer.Exit(1) from exc
    out.print(f"user {user.name} added as {user.role}" + (f" for {', '.join(user.accounts)}" if user.accounts else ""))


@users_app.command("list")
def users_list() -> None:
    """One user per line: name, role, accounts, enabled or disabled."""
    from pipeline import users

    settings = State.settings()
    for user in users.list_users(store.make_engine(settings.effective_database_url)):
        state = "disabled" if user.disabled else "enabled"
        out.print(f"{user.name:<20} {user.role:<9} {state:<9} {','.join(user.accounts) or '-'}", markup=False)


def _change(change: str, name: str, done: str, **values: Any) -> None:
    """One change to a user (``users.set_disabled`` or ``users.set_password``); a refusal exits 1."""
    from pipeline import users

    settings = State.settings()
    try:
        getattr(users, change)(store.make_engine(settings.effective_database_url), name, by=operator().label, **values)
    except users.UserError as exc:
        err.print(f"refused: {exc}", markup=False)
        raise typer.Exit(1) from exc
    out.print(f"user {name}: {done}", markup=False)


@users_app.command("disable")
def users_disable(name: str) -> None:
    """Disable a user (their open sessions end at their next request)."""
    _change("set_disabled", name, "disabled, signed out at their next request", disabled=True)


@users_app.command("enable")
def users_enable(name: str) -> None:
    """Enable a disabled user again."""
    _change("set_disabled", name, "enabled", disabled=False)


@users_app.command("password")
def users_password(name: str, password_stdin: PasswordStdin = False) -> None:
    """Set a user's password."""
    _change("set_password", name, "password set", password=_need_stdin(password_stdin))
