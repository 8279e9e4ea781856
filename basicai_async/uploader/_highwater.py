"""The high-water mark: the highest data id known at the run's level, so a look-up lists only what is new.

After an ambiguous ``batchAddData`` the uploader must find out which of the
batch's files the server registered. Listing the whole level costs one call per
100 items: 1,000 calls in a level of 100,000. But API.md infers that ids
ascend: an item created after another has a larger id. Then everything the
call could have created lies past any id that existed *before* the call was
sent, and ``listItemById`` from that id lists only the items created since
(the call's own, and those of the batches registered meanwhile): a call or two.

That inference is checked, never assumed:

- a listing from the mark can only prove that a file *is* registered: a file
  found there by its name and object path is the one, whatever the ids do. So
  the mark is always tried first after an ambiguous failure (the common case:
  the server acted, the answer was lost), and when every file is found there,
  a call or two settles the batch;
- it proves that a file is *not* registered only once ids are seen to ascend
  at this level (``trusted``): every registration answer is compared with the
  mark known when its call was sent; its ids all above it confirm the
  inference, one at or below it refutes it for the rest of the run. Until
  confirmed (the first batches of a run), the files not found past the mark
  are looked for in the whole level before any is registered again;
- a listing from the mark that does not start past it and ascend refutes the
  mark, and the whole level is walked instead
  (:func:`._reconcile.find_registered`).

A ``registering`` manifest line records the mark its call was sent with
(``after``), so resuming after a crash lists past the lowest of them first.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["HighWater"]


class HighWater:
    """The highest data id seen at one level in one run, and whether ids were seen to ascend there."""

    __slots__ = ("confirmed", "mark", "refuted")

    def __init__(self) -> None:
        self.mark: int | None = None
        """The highest id known to exist at the level (from this run's registration answers)."""
        self.confirmed = False
        self.refuted = False

    @property
    def trusted(self) -> bool:
        """Whether ids were seen to ascend at this level, and never seen not to."""
        return self.confirmed and not self.refuted

    def answered(self, sent: int | None, ids: Sequence[int]) -> None:
        """A registration sent at mark ``sent`` created ``ids``: check the inference, raise the mark."""
        if not ids:
            return
        low, high = min(ids), max(ids)
        if sent is not None:
            if low > sent:
                self.confirmed = True
            else:
                self.refuted = True
        if self.mark is None or high > self.mark:
            self.mark = high

    def refute(self) -> None:
        """A listing did not ascend past the mark: walk whole levels from now on."""
        self.refuted = True
