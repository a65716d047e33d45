"""The contract between the I/O node's C++ dispatcher and a Python scheduler plugin.

C++ owns the pending requests (their queues and locks), dispatch to the parallel file system,
completion matching by request id, and the metrics. A scheduler only decides: given a snapshot
of the pending requests it returns which to start now, in which order, merged into which PFS
operations, and when it wants to be asked again. It is called with batches, never per byte.
docs/forwarding.md ("Scheduler plugin contract") is the long form; simulate.py is the
executable specification of the dispatcher's side.

Threads: C++ calls one scheduler instance from one thread at a time (holding the GIL), so a
scheduler needs no locks of its own.
"""

from __future__ import annotations

from typing import ClassVar, Iterator, Mapping, NamedTuple, Optional, Sequence

__all__ = [
    "READ",
    "WRITE",
    "Batch",
    "Completion",
    "ContractError",
    "Queues",
    "Request",
    "Scheduler",
]

#: Request.kind values.
READ = 0
WRITE = 1

#: What schedule() returns first: dispatch units in start order; a unit is a list of request
#: ids merged into ONE PFS operation (contiguous, same queue_id, same kind, offset order).
Batch = list[list[int]]


class ContractError(ValueError):
    """A scheduler broke the contract (bad batch or sleep); the message says how."""


class Request(NamedTuple):
    """One pending read or write. C++ may hand over plain tuples in this field order."""

    id: int          # unique among the I/O node's live requests (C++ assigns it)
    app_id: int      # the client's LIBGKFS_APP_ID, else its Slurm job id
    queue_id: int    # the file (handle) accessed: only requests of one queue_id merge
    target: int      # PFS target holding the data (e.g. Lustre OST index); 0 if unknown
    kind: int        # READ or WRITE
    offset: int      # bytes
    length: int      # bytes
    arrival: float   # seconds, on the clock of schedule()'s `now`

    @property
    def end(self) -> int:
        return self.offset + self.length


class Completion(NamedTuple):
    """The outcome of one dispatched unit, passed to on_complete()."""

    ids: tuple[int, ...]  # the unit's request ids, as dispatched
    bytes: int            # bytes transferred (a read may stop short at end of file)
    queue_wait: float     # mean over the unit's requests of (dispatch time - arrival), s
    service: float        # dispatch -> completion of the PFS operation, s
    error: int = 0        # 0, or the errno of the PFS operation


class Queues(Mapping[int, Sequence[Request]]):
    """The pending requests at one call: queue id -> that queue's requests in arrival order.

    If the scheduler's ``needs_queue_ids`` is false, C++ may pass all pending requests as one
    queue (any key); the scheduler must then use only the requests' own fields. ``limit`` is
    the most units C++ can start now (its free I/O slots); None means no limit."""

    __slots__ = ("_by_queue", "limit")

    def __init__(self, by_queue: Mapping[int, Sequence[Request]],
                 limit: Optional[int] = None) -> None:
        self._by_queue = by_queue
        self.limit = limit

    def __getitem__(self, queue_id: int) -> Sequence[Request]:
        return self._by_queue[queue_id]

    def __iter__(self) -> Iterator[int]:
        return iter(self._by_queue)

    def __len__(self) -> int:
        return len(self._by_queue)

    def requests(self) -> Iterator[Request]:
        """Every pending request, queue by queue."""
        for requests in self._by_queue.values():
            yield from requests

    def count(self) -> int:
        return sum(len(r) for r in self._by_queue.values())

    def room(self, used: int) -> bool:
        """True while a batch of `used` units may take another one."""
        return self.limit is None or used < self.limit


class Scheduler:
    """Base class of scheduler plugins. C++ creates one instance per I/O node, calls init()
    once, then reads the three flags from the instance (init() may change them).

    * ``work_conserving``: schedule() never returns an empty batch while requests are
      pending and limit > 0, so C++ needs no timer for it (sleep is then always None).
    * ``needs_queue_ids``: the Queues view must be keyed by queue id (one file per key).
    * ``needs_targets``: Request.target must be filled in (TWINS); otherwise C++ may skip
      the PFS layout lookup and pass 0.
    """

    name: ClassVar[str] = ""
    work_conserving: bool = True
    needs_queue_ids: bool = False
    needs_targets: bool = False

    def init(self, config) -> None:
        """REQUIRES: called once, before anything else. config: a SchedulerConfig."""
        self.config = config

    def schedule(self, now: float, queues: Queues) -> tuple[Batch, Optional[float]]:
        """Returns (batch, sleep). batch: at most queues.limit units; every id pending in
        queues, each at most once; a unit holds 1..max_aggregation contiguous requests of one
        queue_id and kind in offset order. sleep: seconds after which C++ calls again even
        if nothing arrives or completes, or None. Requests not returned stay pending and
        are offered again at the next call."""
        raise NotImplementedError

    def on_complete(self, stats: Sequence[Completion]) -> None:
        """Called with the units that finished since the last call, before the next
        schedule(). The default ignores them."""
