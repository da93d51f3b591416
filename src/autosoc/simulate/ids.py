"""Deterministic identifiers (GUIDs, hex ids, hashes) drawn from a seeded ``random.Random``."""

from __future__ import annotations

import hashlib
import random
from functools import lru_cache

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def guid(rng: random.Random) -> str:
    """A lower-case RFC 4122 version-4 GUID (Graph ids, request ids)."""
    n = rng.getrandbits(128)
    n = (n & ~(0xF000 << 64)) | (0x4000 << 64)
    n = (n & ~(0xC000 << 48)) | (0x8000 << 48)
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def guid_upper(rng: random.Random) -> str:
    return guid(rng).upper()


def hex_id(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(digits * 4):0{digits}x}"


def alnum(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(_ALNUM) for _ in range(length))


def stable_guid(*parts: str) -> str:
    """A GUID that depends only on ``parts`` (the same user always has the same object id)."""
    h = hashlib.blake2b("/".join(parts).encode(), digest_size=16).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


@lru_cache(maxsize=4096)
def file_hashes(image: str, version: str = "") -> str:
    """Sysmon's ``Hashes`` field for an executable (stable per path and version)."""
    data = f"{image.lower()}|{version}".encode()
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest().upper()
    sha = hashlib.sha256(data).hexdigest().upper()
    imp = hashlib.md5(data[::-1], usedforsecurity=False).hexdigest().upper()
    return f"MD5={md5},SHA256={sha},IMPHASH={imp}"
