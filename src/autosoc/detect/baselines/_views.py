"""Slices of a batch that the baseline detectors read, built once per batch for all of them.

Each detector reads the events of one or two classes.  A view is such a slice: its events that
have a time, in the order every detector reads them (time, ties by event id), with the epoch
seconds (:data:`SECONDS`) and the canonical keys several detectors share.  Several detectors
read the same view: successful sign-ins feed eight detectors, process starts three, outbound
connections two.  A view is built by the first detector that asks for it and kept, with the
frame it was built from, until a detector asks about another frame; the frame is held, so it
cannot be mistaken for a later one with the same ``id``.

A slice is filtered before it is sorted: a stable sort keeps the order of the rows a filter
keeps, so this is the order of the sorted batch, and only the slice's rows are moved.  Only the
columns the baselines read (:data:`READ`) are moved, not the long texts; events without a time
are left out: every baseline skips them.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl
import polars.selectors as cs

from autosoc.detect.baselines import _columns as C
from autosoc.detect.baselines._query import collect
from autosoc.normalize import fields as F

#: column of every view: the event time in epoch seconds (:func:`~autosoc.detect.baselines._columns.epoch_seconds`)
SECONDS = "_t"
#: column of :func:`authentications`, :func:`signins` and :func:`activity`: the canonical user
#: (:func:`~autosoc.detect.baselines._columns.canonical_user`)
USER_KEY = "_user_key"
#: column of :func:`processes` and :func:`file_activity`: the canonical host
#: (:func:`~autosoc.detect.baselines._columns.canonical_host`)
HOST_KEY = "_host_key"
#: column of :func:`processes`: the shape of the image path (:func:`~autosoc.detect.baselines._columns.path_shape`)
IMAGE = "_image"
#: column of :func:`network` and :func:`connections`: the source address
#: (:func:`~autosoc.detect.baselines._columns.text`)
SOURCE = "_source"

#: aggregations over the groups of a view: the epoch seconds of a group's first and last event, its events
FIRST = pl.col(SECONDS).min().alias("t0")
LAST = pl.col(SECONDS).max().alias("t1")
COUNT = pl.len().alias("n")

Builder = Callable[[pl.DataFrame], pl.DataFrame]

_ORDER = [F.TIME, F.EVENT_ID]


def of_classes(events: pl.DataFrame, classes: tuple[int, ...], *columns: pl.Expr,
               where: pl.Expr | None = None) -> pl.DataFrame:
    """The events of ``classes`` (that ``where`` holds for) with a time, in time order (ties by event
    id), plus :data:`SECONDS` and ``columns`` (not cached: the views below are, and build on it)."""
    wanted = C.is_class(classes[0]) if len(classes) == 1 else pl.col(F.CLASS_UID).is_in(classes)
    query = _view(events, _build_read).lazy().filter(wanted & _TIMED)
    if where is not None:  # a filter of its own: ``where`` is read on the slice's rows only
        query = query.filter(where)
    return collect(query.sort(_ORDER, nulls_last=True, maintain_order=True).with_columns(_SECONDS, *columns))


#: the columns the baselines read: a slice copies only these, not the long texts (``raw``, command lines)
READ = (F.EVENT_ID, F.ORIGIN_SOURCE, F.ORIGIN_PATH, F.ORIGIN_RECORD, F.TIME, F.CLASS_UID, F.STATUS, F.USER, F.USER_UID,
        F.HOST, F.PROCESS_PATH, F.PARENT_PATH, F.FILE_PATH, F.SRC_IP, F.DST_IP, F.DST_PORT, F.USER_AGENT, F.DEVICE_UID,
        F.USER_DEPARTMENT, F.SRC_COUNTRY, F.SRC_CITY, F.SRC_LAT, F.SRC_LONG, F.SRC_ASN, F.SRC_ASN_ORG, F.APP_NAME,
        F.BYTES_OUT)

# the expressions of the views, built once (building one costs more than a small slice's work)
_READ = cs.by_name(READ, require_all=False)  # a column the frame lacks fails where it is read, as before
_TIMED = pl.col(F.TIME).is_not_null()
_SECONDS = C.epoch_seconds().alias(SECONDS)
_USER_KEY = C.canonical_user().alias(USER_KEY)
_HOST_KEY = C.canonical_host().alias(HOST_KEY)
_IMAGE = C.path_shape(F.PROCESS_PATH).alias(IMAGE)
_SOURCE = C.text(F.SRC_IP).alias(SOURCE)
_SUCCESS = C.is_success()
_ADDRESSED = pl.col(F.SRC_IP).is_not_null() & pl.col(F.DST_IP).is_not_null()
_SUCCESS_OR_API = C.is_class(C.API_ACTIVITY) | C.is_success()


def _build_read(events: pl.DataFrame) -> pl.DataFrame:
    return events.select(_READ)


def _build_authentications(events: pl.DataFrame) -> pl.DataFrame:
    return of_classes(events, (C.AUTHENTICATION,), _USER_KEY)


def _build_signins(events: pl.DataFrame) -> pl.DataFrame:
    return authentications(events).filter(_SUCCESS)


def _build_processes(events: pl.DataFrame) -> pl.DataFrame:
    return of_classes(events, (C.PROCESS_ACTIVITY,), _HOST_KEY, _IMAGE)


def _build_network(events: pl.DataFrame) -> pl.DataFrame:
    return of_classes(events, (C.NETWORK_ACTIVITY,), _SOURCE)


def _build_connections(events: pl.DataFrame) -> pl.DataFrame:
    return network(events).filter(_ADDRESSED)


def _build_api_calls(events: pl.DataFrame) -> pl.DataFrame:
    return of_classes(events, (C.API_ACTIVITY,))


def _build_file_activity(events: pl.DataFrame) -> pl.DataFrame:
    return of_classes(events, (C.FILE_ACTIVITY,), _HOST_KEY)


def _build_api_callers(events: pl.DataFrame) -> pl.DataFrame:
    return api_calls(events).with_columns(_USER_KEY)


def _build_signins_and_api_calls(events: pl.DataFrame) -> pl.DataFrame:
    # one slice of both classes, not the two views concatenated: its order is the batch's
    return of_classes(events, (C.AUTHENTICATION, C.API_ACTIVITY), _USER_KEY, where=_SUCCESS_OR_API)


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


def authentications(events: pl.DataFrame) -> pl.DataFrame:
    """Authentication events (class 3002) of any outcome, plus :data:`USER_KEY`."""
    return _view(events, _build_authentications)


def signins(events: pl.DataFrame) -> pl.DataFrame:
    """Successful sign-ins (class 3002, status Success), plus :data:`USER_KEY`."""
    return _view(events, _build_signins)


def processes(events: pl.DataFrame) -> pl.DataFrame:
    """Process activity (class 1007), plus :data:`HOST_KEY` and :data:`IMAGE`."""
    return _view(events, _build_processes)


def network(events: pl.DataFrame) -> pl.DataFrame:
    """Network activity (class 4001), plus :data:`SOURCE`."""
    return _view(events, _build_network)


def connections(events: pl.DataFrame) -> pl.DataFrame:
    """Network activity (class 4001) with a source and a destination address, plus :data:`SOURCE`."""
    return _view(events, _build_connections)


def api_calls(events: pl.DataFrame) -> pl.DataFrame:
    """API activity (class 6003)."""
    return _view(events, _build_api_calls)


def file_activity(events: pl.DataFrame) -> pl.DataFrame:
    """File activity (class 1001), plus :data:`HOST_KEY`."""
    return _view(events, _build_file_activity)


def activity(events: pl.DataFrame, *, signin: bool, api: bool) -> pl.DataFrame:
    """Successful sign-ins and/or API activity (class 6003), plus :data:`USER_KEY`: what
    :class:`~autosoc.detect.baselines.rare_time.RareTimeDetector` counts as a user's activity
    (at least one of ``signin`` and ``api``)."""
    if signin and api:
        return _view(events, _build_signins_and_api_calls)
    return signins(events) if signin else _view(events, _build_api_callers)
