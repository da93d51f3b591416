"""The C lower case of string columns (autosoc.detect.sigma._lower) against Polars' own."""

from __future__ import annotations

import random

import polars as pl
import pytest

from autosoc.detect.sigma import lowercase as L

pytestmark = pytest.mark.skipif(L._lower is None, reason="the _lower C extension is not built (no C compiler)")

#: characters the C code lower-cases itself, the ones it leaves to Polars (U+0130 and U+03A3 have
#: context or length rules, U+212A is the Kelvin sign, U+1E9E a capital sharp s), and their neighbours
_ALPHABET = (
    [chr(c) for c in range(0x20, 0x7F)]
    + [chr(c) for c in range(0x80, 0x100)]
    + ["\u2000", "\u2019", "\u206f", "\u2070", "\u2122", "\u2126", "\u212a", "\u0130", "\u03a3", "\u1e9e",
       "\u0100", "\u0178", "\U0001f600", "\n", "\t", "\x00"]
)


def _random_values(rng: random.Random, count: int) -> list[str | None]:
    values: list[str | None] = []
    for _ in range(count):
        if rng.random() < 0.1:
            values.append(None)
            continue
        length = rng.choice([0, 1, 5, 11, 12, 13, 15, 16, 17, 31, 32, 33, rng.randrange(0, 200)])
        ascii_only = rng.random() < 0.6
        pool = _ALPHABET[:95] if ascii_only else _ALPHABET
        values.append("".join(rng.choice(pool) for _ in range(length)))
    return values


def _check(column: pl.Series) -> None:
    got = L.lowercase(column, native=True)
    want = column.str.to_lowercase()
    assert got.name == column.name
    assert got.dtype == pl.String
    assert got.to_list() == want.to_list()
    assert got.null_count() == want.null_count()


@pytest.mark.parametrize("seed", range(6))
def test_random_values_match_polars(seed: int) -> None:
    rng = random.Random(seed)
    _check(pl.Series("v", _random_values(rng, 3000), dtype=pl.String))


def test_every_latin1_and_known_character_alone_and_in_long_values() -> None:
    singles = [chr(c) for c in range(0x80, 0x100)] + [chr(c) for c in range(0x2000, 0x2130)]
    _check(pl.Series("c", singles))
    _check(pl.Series("c", [f"PREFIX-{c}-A LONG SUFFIX THAT SPANS CHUNKS {c}{c}" for c in singles]))


def test_the_characters_left_to_polars() -> None:
    # lower-case forms of another length (U+0130 -> i + combining dot), a final sigma, the Kelvin sign
    values = ["\u0130STANBUL", "ΟΔΟΣ", "ΟΔΟΣ ΚΑΙ ΣΟΦΙΑ", "\u212a", "A\u212aB" * 10, "Ω\u2126", "\u1e9e" * 20,
              "Microsoft® Windows® Operating System", "TRADE\u2122MARK", None, "MIXED ÀÉÎ and ΣΑΣ"]
    column = pl.Series("odd", values)
    _check(column)
    assert L.lowercase(column).to_list()[7] == "microsoft® windows® operating system"


def test_slices_chunks_and_frames_after_filtering() -> None:
    rng = random.Random(7)
    column = pl.Series("v", _random_values(rng, 5000))
    _check(column.slice(1234, 777))
    chunked = pl.concat([column.slice(0, 100), column.slice(2500, 900), column.slice(10, 3)], rechunk=False)
    assert chunked.n_chunks() > 1
    _check(chunked)
    frame = pl.DataFrame({"v": column, "k": range(column.len())})
    _check(frame.filter(pl.col("k") % 3 == 1).get_column("v"))


def test_nulls_empties_and_other_types() -> None:
    _check(pl.Series("n", [None, None], dtype=pl.String))
    _check(pl.Series("e", [], dtype=pl.String))
    _check(pl.Series("z", ["", "", None, "A"]))
    with pytest.raises(pl.exceptions.SchemaError):
        L.lowercase(pl.Series("i", [1, 2]))


def test_pure_python_switch_gives_the_same() -> None:
    column = pl.Series("v", ["ABC", "Ärger", None, "x" * 40])
    assert L.lowercase(column, native=False).to_list() == L.lowercase(column, native=True).to_list()


def test_patch_refuses_bad_input() -> None:
    views = bytearray(32)
    with pytest.raises(ValueError):
        L._lower.patch(views, (b"\x05\x00\x00\x00", 0, 1), pl.Series(["a"]))  # row 5 of 2
    with pytest.raises(ValueError):
        L._lower.patch(views, (b"\x00\x00\x00\x00", 0, 1), pl.Series(["a", "b"]))  # 1 row, 2 values
    with pytest.raises(ValueError):
        L._lower.patch(views, (b"\x00\x00\x00\x00", 0, 1), pl.Series([None], dtype=pl.String))


def test_unfoldable_rows_match_polars() -> None:
    rng = random.Random(11)
    values = [*_random_values(rng, 4000), "x" * 15 + "\u0130", "\u212a", "\u0130", "ab\u212acd" * 9, "\u0131", "\u2129"]
    column = pl.Series("t", values)
    want = column.str.contains_any(list(L.UNFOLDABLE)).fill_null(False).arg_true().cast(pl.UInt32).to_list()
    assert L.unfoldable_rows(column, native=True).to_list() == want
    assert L.unfoldable_rows(column, native=False).to_list() == want
    assert len(want) > 10
    assert L.unfoldable_rows(column.slice(4000, 6), native=True).to_list() == [0, 1, 2, 3]
