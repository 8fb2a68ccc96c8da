"""`with` for the processes and networks a test starts: leaving the block stops them."""

from __future__ import annotations

from typing import Self


class StoppedOnExit:
    """A context manager whose `__exit__` calls `stop()`, whatever ended the block."""

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
