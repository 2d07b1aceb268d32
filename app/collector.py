"""The garbage collector as the service runs it.

Most of what the AMI listener allocates (messages, events, call snapshots) is freed by
reference counting the moment it is done with; the cyclic collector only has to look at it.
With CPython's default first threshold (700 container allocations) it looked after every
few events, promoted whatever was still queued to the older generations, and walked the
whole heap again and again in full collections: a fifth of the listener's CPU at 20,000
events a second, and pauses of 100 ms and more (BENCHMARKS.md, "AMI ingest").

So, once start-up is done: what start-up built is frozen out of the collector's sight (it
lives as long as the process), and the first generation is collected every 50,000
container allocations rather than 700 (a collection then takes a few ms: what dies young
is freed by reference counting anyway, so little is there), the older ones at their
default ratios.
"""

from __future__ import annotations

import gc

YOUNG = 50_000


def settle() -> tuple[int, int, int]:
    """After start-up: freeze what exists and raise the first threshold. Returns the
    thresholds before, for ``restore``."""
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG, before[1], before[2])
    return before


def restore(before: tuple[int, int, int]) -> None:
    gc.unfreeze()
    gc.set_threshold(*before)
