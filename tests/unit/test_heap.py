"""A process's heap after start-up: what lives for the whole process is kept off the collector's full passes."""
from __future__ import annotations

import gc

from paht.runtime import heap


class Node:
    def __init__(self):
        self.other = self


def test_settle_freezes_what_lives_and_garbage_made_later_is_still_collected():
    gc.unfreeze()
    try:
        assert gc.get_freeze_count() == 0
        kept = [Node() for _ in range(100)]
        heap.settle()
        frozen = gc.get_freeze_count()
        assert frozen >= len(kept)  # the living objects are out of every generation's pass

        cycle = Node()  # made after: the collector still finds it when it becomes garbage
        del cycle
        assert gc.collect() >= 1
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
