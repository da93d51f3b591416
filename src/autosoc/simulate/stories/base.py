"""What a story is: its events (each bound for one output stream), its entities and its timing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: output streams: ("windows", HOST) | ("entra_signin",) | ("entra_audit",)
#: | ("cloudtrail", ACCOUNT, REGION) | ("zeek",)
Sink = tuple[str, ...]


@dataclass(slots=True)
class StoryEvent:
    sink: Sink
    us: int
    record: dict[str, Any]
    step: str


@dataclass(slots=True)
class Story:
    id: str
    type: str  # a..e
    title: str
    entities: list[str]  # kind:value, spelled as the logs spell them
    expected: list[str]  # the baseline / behaviour signals this story should produce
    events: list[StoryEvent] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def add(self, sink: Sink, step: str):  # type: ignore[no-untyped-def]
        """An ``emit(us, record)`` callback that files records under ``sink`` and ``step``."""
        def emit(us: int, record: dict[str, Any]) -> None:
            self.events.append(StoryEvent(sink, us, record, step))
        return emit

    @property
    def start(self) -> int:
        return min(e.us for e in self.events)

    @property
    def end(self) -> int:
        return max(e.us for e in self.events)
