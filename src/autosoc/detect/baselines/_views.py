"""Slices of a batch that several baseline detectors read, built once per batch for all of them.

The detectors run one after another on the same batch and read it in the same order
(:func:`~autosoc.detect.baselines.base.sort_events` gives them all one sorted frame).  Several
read the same slice: successful sign-ins feed eight detectors, process starts three, outbound
connections two.  A view is built by the first detector that asks for it and kept, with the
frame it was built from, until a detector asks about another frame; the frame is held, so it
cannot be mistaken for a later one with the same ``id``.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from autosoc.detect.baselines import _columns as C
from autosoc.normalize import fields as F

#: column of :func:`signins`: the canonical user (:func:`~autosoc.detect.baselines._columns.canonical_user`)
USER_KEY = "_user_key"
#: columns of :func:`processes`: the canonical host, and the shape of the image path
#: (:func:`~autosoc.detect.baselines._columns.path_shape`)
HOST_KEY = "_host_key"
IMAGE = "_image"
#: column of :func:`connections`: the source address (:func:`~autosoc.detect.baselines._columns.text`)
SOURCE = "_source"

Builder = Callable[[pl.DataFrame], pl.DataFrame]


def _build_signins(events: pl.DataFrame) -> pl.DataFrame:
    # the class first: the status is lower-cased on sign-ins only, not on every event
    return events.filter(C.is_class(C.AUTHENTICATION)).filter(C.is_success()).with_columns(
        C.canonical_user().alias(USER_KEY))


def _build_processes(events: pl.DataFrame) -> pl.DataFrame:
    return events.filter(C.is_class(C.PROCESS_ACTIVITY)).with_columns(
        C.canonical_host().alias(HOST_KEY), C.path_shape(F.PROCESS_PATH).alias(IMAGE))


def _build_connections(events: pl.DataFrame) -> pl.DataFrame:
    return events.filter(C.is_class(C.NETWORK_ACTIVITY) & pl.col(F.SRC_IP).is_not_null()
                         & pl.col(F.DST_IP).is_not_null()).with_columns(C.text(F.SRC_IP).alias(SOURCE))


_FOR: list[pl.DataFrame] = []  # the frame the views are of
_VIEWS: dict[Builder, pl.DataFrame] = {}


def _view(events: pl.DataFrame, build: Builder) -> pl.DataFrame:
    if not (_FOR and _FOR[0] is events):
        _FOR[:] = [events]
        _VIEWS.clear()
    found = _VIEWS.get(build)
    if found is None:
        found = _VIEWS[build] = build(events)
    return found


def signins(events: pl.DataFrame) -> pl.DataFrame:
    """Successful sign-ins (class 3002, status Success) in the order of ``events``, plus :data:`USER_KEY`."""
    return _view(events, _build_signins)


def processes(events: pl.DataFrame) -> pl.DataFrame:
    """Process activity (class 1007) in the order of ``events``, plus :data:`HOST_KEY` and :data:`IMAGE`."""
    return _view(events, _build_processes)


def connections(events: pl.DataFrame) -> pl.DataFrame:
    """Network activity (class 4001) with a source and a destination address, in the order of ``events``,
    plus :data:`SOURCE`."""
    return _view(events, _build_connections)
