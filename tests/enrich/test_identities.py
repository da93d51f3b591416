"""Identity inventory: departments by canonical user name."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from autosoc.enrich import IdentityEnricherConfig, load_identities
from autosoc.errors import InputError
from autosoc.normalize import fields as F
from autosoc.normalize.parser import empty_events
from autosoc.schema import EventBatch

INVENTORY = """\ufeffUser,Department,Email,Title,is_admin,Manager,Country,cost_center
alice,Finance,alice.smith@corp.example,Accountant,no,CORP\\Carol,ro,100
bob,Engineering,,SRE,TRUE,carol,,200
carol,Engineering,carol@corp.example,Head of Engineering,,,,200
"""


def _batch(rows: list[dict]) -> EventBatch:
    schema = {F.USER: pl.String, F.USER_UID: pl.String, F.USER_DEPARTMENT: pl.String}
    frame = pl.concat([empty_events(), pl.DataFrame(rows, schema=schema)], how="diagonal_relaxed")
    return EventBatch(frame, pl.DataFrame({"_": [None] * frame.height}, schema={"_": pl.String}))


def test_departments_by_canonical_name(tmp_path: Path) -> None:
    path = tmp_path / "identities.csv"
    path.write_text(INVENTORY, encoding="utf-8")
    enricher = IdentityEnricherConfig(path=path).build()
    out = enricher.enrich(_batch([
        {F.USER: "CORP\\Alice"}, {F.USER: "alice.smith@corp.example"}, {F.USER: "bob@corp.example"},
        {F.USER: "carol", F.USER_DEPARTMENT: "Office of the CTO"},  # the log's value is kept
        {F.USER: None, F.USER_UID: "BOB"}, {F.USER: "mallory"}, {F.USER: None},
    ]))
    assert out.events[F.USER_DEPARTMENT].to_list() == [
        "Finance", "Finance", "Engineering", "Office of the CTO", "Engineering", None, None]
    alice = enricher.identity("ALICE@corp.example")
    assert alice is not None and alice.title == "Accountant" and not alice.is_admin
    assert alice.manager == "carol" and alice.country == "RO" and alice.email == "alice.smith@corp.example"
    bob = enricher.identity("bob")
    assert bob is not None and bob.is_admin


def test_missing_column_and_bad_values(tmp_path: Path) -> None:
    path = tmp_path / "no_department.csv"
    path.write_text("user,title\nalice,Accountant\n", encoding="utf-8")
    with pytest.raises(InputError, match="lacks column\\(s\\) department") as info:
        load_identities(path)
    assert info.value.code == "missing_field"
    path = tmp_path / "bad_admin.csv"
    path.write_text("user,department,is_admin\nalice,Finance,no\nbob,IT,sometimes\n", encoding="utf-8")
    with pytest.raises(InputError, match="is_admin must be true/false") as info:
        load_identities(path)
    assert str(info.value).startswith(f"{path}:3 field=is_admin:")
    with pytest.raises(InputError, match="not found"):
        load_identities(tmp_path / "absent.csv")


def test_first_row_wins_for_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "dupes.csv"
    path.write_text("user,department\nalice,Finance\nCORP\\alice,Sales\n,Nobody\n", encoding="utf-8")
    identities = load_identities(path)
    assert {k: v.department for k, v in identities.items()} == {"alice": "Finance"}
