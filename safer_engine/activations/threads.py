"""The threads beside extraction's forward pass: a loader that stays a bounded number of
shards ahead, and a writer that saves finished shards while the model runs on the next."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from safer_engine.store.writer import save_shard


class Background:
    """A thread that runs `work` over items and hands results over a bounded queue, so
    it stays at most `ahead` items in front of its consumer; errors reach the consumer."""

    _DONE = object()

    def __init__(self, work: Callable[[], Iterator[Any]], ahead: int, name: str) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=ahead)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self.seconds = 0.0
        self._thread = threading.Thread(target=self._run, args=(work,), name=name, daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[], Iterator[Any]]) -> None:
        try:
            items = work()
            while True:
                started = time.perf_counter()
                item = next(items, self._DONE)
                self.seconds += time.perf_counter() - started
                if not self._put(item) or item is self._DONE:
                    return
        except BaseException as exc:  # handed to the consumer
            self._error = exc
            self._put(self._DONE)

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[Any]:
        while True:
            item = self._queue.get()
            if item is self._DONE:
                if self._error is not None:
                    raise self._error
                return
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


class ShardWriter:
    """Saves shards on a thread of its own while the model runs on the next one."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shard-writer")
        self._pending: list[Future[float]] = []

    def save(self, path: Path, arrays: dict[str, np.ndarray]) -> None:
        self._raise_failed()
        self._pending.append(self._pool.submit(self._save, path, arrays))

    @staticmethod
    def _save(path: Path, arrays: dict[str, np.ndarray]) -> float:
        started = time.perf_counter()
        save_shard(path, **arrays)
        return time.perf_counter() - started

    def _raise_failed(self) -> None:
        for future in [f for f in self._pending if f.done()]:
            future.result()

    def finish(self) -> float:
        """Wait for every save; the seconds they took."""
        try:
            return sum(f.result() for f in self._pending)
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)
