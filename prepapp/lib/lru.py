"""A small least-recently-used map, safe to share between a process's threads.

The per-process caches of the hot paths use it: published protocol versions' steps, rendered
answers kept by their ETag, whose each recent session is.
"""

from __future__ import annotations

import threading
from collections import OrderedDict


class LRU:
    """At most `size` entries; reading or writing one makes it the most recent, the least recent goes first."""

    def __init__(self, size: int):
        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, key):
        with self.lock:
            value = self.items.get(key)
            if value is not None:
                self.items.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.items.clear()
