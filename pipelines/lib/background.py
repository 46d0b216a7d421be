"""Fixed costs paid on a side thread while the run waits on something else."""

from __future__ import annotations

import threading
from collections.abc import Callable


class OnceInBackground:
    """Runs `work` once per process on a daemon thread; `start()` starts it the first time
    and returns that thread every time. `work` must not raise: whoever needs its result
    later builds it again and reports the error there (see the callers)."""

    def __init__(self, work: Callable[[], None], name: str) -> None:
        self._work = work
        self._name = name
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> threading.Thread:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name=self._name, daemon=True)
                self._thread.start()
            return self._thread
