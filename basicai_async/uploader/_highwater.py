"""The high-water mark: the highest data id known at the run's level, so a look-up lists only what is new.

After an ambiguous ``batchAddData`` the uploader must find out which of the
batch's files the server registered. Listing the whole level costs one call per
100 items: 1,000 calls in a level of 100,000. But API.md infers that ids
ascend: an item created after another has a larger id. Then everything the
call could have created lies past any id that existed *before* the call was
sent, and ``listItemById`` from that id lists only the items created since
(the call's own, and those of the batches registered meanwhile): a call or two.

That inference is checked, never assumed:

- every registration answer is compared with the mark known when its call was
  sent: its ids all above it confirm that ids ascend at this level; one at or
  below it refutes it for the rest of the run;
- the mark is used only once an answer has confirmed it and none has refuted
  it; until then (the first batches of a run) a look-up walks the whole level;
- a look-up from the mark checks that the listing really starts past it and
  ascends (:func:`._reconcile.find_registered`); if not, it refutes the mark and
  walks the whole level instead.

A ``registering`` manifest line records the mark its call was sent with
(``after``) when it was trusted, so resuming after a crash lists only past the
lowest of them.
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

    def after(self, sent: int | None) -> int | None:
        """Where a look-up for a call sent at mark ``sent`` may start (None: the whole level)."""
        return sent if self.trusted else None

    def refute(self) -> None:
        """A listing did not ascend past the mark: walk whole levels from now on."""
        self.refuted = True
