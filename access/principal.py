"""Who is asking: a signed-in user's role and jurisdiction, the unit every query and export is scoped by."""

from __future__ import annotations

from dataclasses import dataclass

ROLES: dict[str, str] = {
    "command_center": "指挥中心",  # whole city, no personal data
    "official": "网格负责人",  # scoped to one or more large or medium grids; personal data masked
    "analyst": "统计分析员",  # statistics and exports for the whole city, no personal data
    "admin": "系统管理员",  # everything; the only role that may reveal personal data (audited); reads the audit log
    "wall": "大屏",  # the command center's wall display only: signed in by a link, no controls, no personal data
}


@dataclass(frozen=True)
class Principal:
    """A signed-in user. `scope` holds the large or medium grid codes an official may see; () = the whole city."""

    username: str
    role: str
    scope: tuple[str, ...] = ()
    display_name: str = ""

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role was {self.role!r} but is expected to be one of {list(ROLES)}")
        if self.role == "official" and not self.scope:
            raise ValueError("an official needs a scope: the large or medium grid codes they are responsible for")

    @property
    def whole_city(self) -> bool:
        """True when the user may see every grid."""
        return not self.scope

    @property
    def wall_only(self) -> bool:
        """Whether the user sees only the wall display (the `wall` role: a screen, not a person)."""
        return self.role == "wall"

    @property
    def may_supervise(self) -> bool:
        """Whether the user may mark events 督办, sign for pop-ups and confirm or send back 反馈: the command
        center and administrators."""
        return self.role in ("command_center", "admin")

    @property
    def may_feed_back(self) -> bool:
        """Whether the user may record 反馈 on a 督办 item of their jurisdiction: officials (and administrators)."""
        return self.role in ("official", "admin")

    @property
    def may_see_server_paths(self) -> bool:
        """Whether the dashboard may show where the store and logs live on the server: administrators only (the
        operator, SYSTEM, is one: the command line and open mode)."""
        return self.role == "admin"

    @property
    def may_reveal_personal_data(self) -> bool:
        """Whether the role may reveal (one record at a time, audited) names, phones and ID numbers: administrators only."""
        return self.role == "admin"

    @property
    def may_see_contact_phones(self) -> bool:
        """Whether the grid people's phone numbers are shown unmasked (audited): the roles allowed to see personal
        data, administrators only. Names of grid people are public (网格公示牌) and shown to every role."""
        return self.may_reveal_personal_data


SYSTEM = Principal(username="system", role="admin")  # the command line run by the server's operator
