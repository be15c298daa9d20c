"""What init decided and why, and what it leaves to a person: the report `minqing init` prints."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Decision:
    """One choice init made: about what (a file or a key), the choice, and the evidence."""

    subject: str
    topic: str
    choice: str
    why: str


@dataclass
class InitReport:
    """Every decision in the order it was made, the points a person must settle, and the files written."""

    decisions: list[Decision] = field(default_factory=list)
    needs_person: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    figures: dict[str, object] = field(default_factory=dict)  # measured shares, for tests and the closing note

    def decide(self, subject: str, topic: str, choice: object, why: str) -> None:
        """Record a decision."""
        self.decisions.append(Decision(subject, topic, str(choice), why))

    def ask(self, text: str) -> None:
        """Put a point on the "needs a person" list (once)."""
        if text not in self.needs_person:
            self.needs_person.append(text)

    def choice(self, subject: str, topic: str) -> str | None:
        """The choice made on `topic` for `subject` (the last one), or None."""
        found = [d.choice for d in self.decisions if d.subject == subject and d.topic == topic]
        return found[-1] if found else None

    def choice_why(self, subject: str, topic: str) -> str:
        """The reason given for the last decision on `topic` for `subject` ('' when none)."""
        found = [d.why for d in self.decisions if d.subject == subject and d.topic == topic]
        return found[-1] if found else ""
