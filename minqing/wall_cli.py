"""`minqing users wall-link NAME`: the long random link that signs a wall display in (the `wall` role), shown once."""

from __future__ import annotations

from pathlib import Path

import click

from store.errors import UserError

WALL_ROUTE = "/session/wall?key="  # dashboard/gateway.py's wall-link route


@click.command("wall-link")
@click.argument("username")
@click.option("--users", "users_file", type=click.Path(dir_okay=False, path_type=Path), required=True,
              envvar="MINQING_USERS", help="The users file (TOML; created by the first `users add`).")
@click.option("--url", "base_url", default="http://localhost:8501", show_default=True,
              help="The dashboard's address as the wall's browser reaches it, e.g. http://10.0.0.5:8501.")
@click.option("--scope", "scope", multiple=True, help="A new wall account's large or medium grid (repeatable); "
                                                      "default: the whole city.")
@click.option("--revoke", is_flag=True, help="Revoke the wall's link and end its sessions instead of making one.")
def wall_link(username: str, users_file: Path, base_url: str, scope: tuple[str, ...], revoke: bool) -> None:
    """Make (or --revoke) the sign-in link of wall display USERNAME; a new link replaces the old one.

    The account is created with the `wall` role when missing. The link is printed once and kept only as a hash;
    each use is audited, and the wall's session is renewed while it runs. `minqing users remove USERNAME` also
    revokes it."""
    from access.accounts import add_user, normalize_username, read_users
    from access.sessions import SessionStore, sessions_path

    name = normalize_username(username)
    sessions = SessionStore(sessions_path(users_file))
    users = read_users(users_file) if users_file.exists() else None
    account = users.accounts.get(name) if users is not None else None
    if revoke:
        count = sessions.revoke_wall_links(name)
        click.echo(f"已撤销 / revoked {count} link(s) of {name}; its wall sessions have ended")
        return
    if account is None:
        add_user(users_file, name, role="wall", scope=scope, name="大屏", password=None)
        click.echo(f"已创建大屏账号 / created wall account {name} in {users_file}")
    elif account.role != "wall":
        raise UserError(f"{name!r} is a {account.role} account, not a wall; pick another name for the wall "
                        f"(a link signs in without a password, so only `wall` accounts get one)")
    elif scope:
        raise UserError(f"{name!r} exists; --scope applies only to a new wall account")
    key = sessions.make_wall_link(name)
    click.echo("大屏登录链接（只显示这一次，请妥善保存；再次生成会使旧链接失效）/ the wall's sign-in link, shown once:")
    click.echo(f"{base_url.rstrip('/')}{WALL_ROUTE}{key}")
