"""The commands' Rich consoles: at a terminal they fit its width; in a pipe, a file or a CI log they wrap
and cut nothing, so roster codes, URLs, paasids and amounts arrive whole and a table row stays one line."""

from __future__ import annotations

from typing import Any

from rich.console import Console, ConsoleDimensions

UNBOUNDED = 10_000  # columns: wider than any row a command prints, and tables take only what they need


class Output(Console):
    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        return size if self.is_terminal else ConsoleDimensions(UNBOUNDED, size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


def console(*, stderr: bool = False, **kw: Any) -> Output:
    return Output(stderr=stderr, highlight=False, **kw)
