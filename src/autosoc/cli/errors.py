"""One place that turns an :class:`AutosocError` into one clear line and exit code 1."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console

from autosoc.errors import AutosocError

P = ParamSpec("P")
R = TypeVar("R")
DEBUG = {"on": False}


def friendly_errors(command: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except AutosocError as exc:
            if DEBUG["on"]:
                raise
            Console(stderr=True).print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return run
