"""Expression helpers for records whose shape varies by exporter (nested object vs JSON text).

A field of a log may arrive nested (``Status: {"errorCode": 0}`` flattened to ``Status.errorCode``),
as JSON text in one column (Log Analytics exports ``dynamic`` columns as text: ``Status`` =
``'{"errorCode":0}'``) or under another exporter's prefix (``properties.status.errorCode``).
These helpers read a value from whichever form a batch has, as one Polars expression.
"""

from __future__ import annotations

import polars as pl

from autosoc.normalize._exprs import NULL


def pick(cols: set[str], *names: str, keep_empty: bool = False) -> pl.Expr:
    """The first non-empty value among the columns (``"name"`` or ``"name{json.path}"``) that exist.

    ``"Status{errorCode}"`` reads ``Status.errorCode`` when the object was flattened, else the
    ``errorCode`` key of the JSON text in ``Status``.  Empty strings count as missing unless
    ``keep_empty`` (raw aliases keep a field's value as it is: ``deviceId: ""`` stays ``""``).
    """
    exprs: list[pl.Expr] = []
    for name in names:
        if "{" in name:
            column, _, path = name[:-1].partition("{")
            if f"{column}.{path}" in cols:
                exprs.append(pl.col(f"{column}.{path}"))
            elif column in cols:
                text = pl.col(column)
                exprs.append(pl.when(text.str.starts_with("{")).then(text.str.json_path_match(f"$.{path}"))
                             .otherwise(NULL))
        elif name in cols:
            exprs.append(pl.col(name))
    if not exprs:
        return NULL
    if keep_empty:
        return exprs[0] if len(exprs) == 1 else pl.coalesce(exprs)
    expr = exprs[0] if len(exprs) == 1 else pl.coalesce([pl.when(e == "").then(NULL).otherwise(e) for e in exprs])
    return pl.when(expr == "").then(NULL).otherwise(expr)


def lowered(cols: set[str], *names: str) -> pl.Expr:
    return pick(cols, *names).str.to_lowercase()


def present(cols: set[str], *names: str) -> pl.Expr:
    """True where every one of ``names`` exists and is non-null (False when a column is absent)."""
    if not all(n in cols for n in names):
        return pl.lit(False)
    return pl.all_horizontal([pl.col(n).is_not_null() for n in names])


def one_of(expr: pl.Expr, values: tuple[str, ...] | list[str]) -> pl.Expr:
    """``expr`` (lower-cased) is one of ``values`` (lower case); null -> False."""
    return expr.str.to_lowercase().is_in(list(values)).fill_null(False)


def list_items(expr: pl.Expr, template: list[tuple[str, str]], separator: str = "; ") -> pl.Expr:
    """Join the items of a JSON array of flat objects: ``template`` = (json path, text before it).

    ``[{"authenticationMethod":"Password","authenticationStepResultDetail":"Correct password"}]``
    with ``[("authenticationMethod", ""), ("authenticationStepResultDetail", ": ")]`` gives
    ``"Password: Correct password"``.  Null when the array is absent or empty.
    """
    parts = [pl.concat_str([pl.lit(prefix), pl.element().str.json_path_match(f"$.{path}")])
             if prefix else pl.element().str.json_path_match(f"$.{path}") for path, prefix in template]
    items = expr.str.extract_all(r"\{[^{}]*\}").list.eval(pl.concat_str(parts, ignore_nulls=True))
    joined = items.list.join(separator)
    return pl.when(joined == "").then(NULL).otherwise(joined)


def item_of_type(array: pl.Expr, types: tuple[str, ...], key: str) -> pl.Expr:
    """``key`` of the first item of a JSON array whose ``type`` is one of ``types`` (in that preference)."""
    return pl.coalesce([array.str.json_path_match(f"$[?(@.type=='{t}')].{key}") for t in types])
