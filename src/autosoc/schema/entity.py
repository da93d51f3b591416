"""Entities: the things risk accumulates on and incidents are grouped by.

An entity is a ``(kind, value)`` pair.  Values are canonical (see :func:`canonical`): the same
user seen as ``CORP\\alice``, ``alice@corp.example`` and ``Alice`` is one entity, ``user:alice``.
"""

from __future__ import annotations

from typing import NamedTuple

#: the entity kinds; correlation links signals that share any entity
ENTITY_KINDS = ("user", "host", "ip", "cloud_principal", "oauth_app")


class Entity(NamedTuple):
    kind: str
    value: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"

    @classmethod
    def parse(cls, text: str) -> Entity:
        kind, _, value = text.partition(":")
        return cls(kind, value)


def canonical(kind: str, value: str) -> str:
    """The one spelling of an entity value: lower case; users without domain or UPN suffix;
    hosts without their DNS domain."""
    text = value.strip().lower()
    if kind == "user":
        text = text.rsplit("\\", 1)[-1]
        text = text.split("@", 1)[0]
    elif kind == "host":
        text = text.split(".", 1)[0] if not text.replace(".", "").isdigit() else text
    return text
