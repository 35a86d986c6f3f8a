"""What a session knows of the latest rows its lineage holds in the store,
without reading them.

A training loop reads the rows it is writing: Blocks' main loop asks
``log.current_row.get('training_finish_requested')`` after every batch,
where nothing is stored yet, and extensions read ``previous_row``, which
the last commit wrote. Each read asked the store: one query of SQLite (15
to 80 us, as long as the rest of the iteration or longer), one round trip
to a PostgreSQL server. But a session that commits knows what it committed.
From the time past all that its lineage held when it last looked (its
``end``), the store holds what the session committed since, and nothing
else, while nothing else writes the lineage:

- nothing else can while the session is its sole writer: it holds the
  claim on its run, the run was resumed from none, and the session was
  never forked (a forked child writes on into its parent's run);
- a writer that is not sole (its run resumed, as a pickled log's is, or
  its process forked, as a data loader's) knows it while the store's
  ``data_version``, which changes when another connection commits, stays
  as it was; where it changed (another run of the file committed, say),
  the store is read, and looked at again only once it stayed the same
  for :data:`STEADY` reads. In a file that other writers commit to as
  often as that, a read would cost that statement and the store's read
  too: after :data:`BUSY` such changes in a row, the next
  :data:`BUSY_READS` reads go to the store at once. A store that cannot
  tell it (PostgreSQL), and a reader, read the store each time, as
  before.

A commit costs the training loop one more store of a reference: its items
are kept. A read that finds one commit made since the read before takes
them into account; one that finds more reads the store (a loop that reads
each iteration finds one).

"""

#: Reads with the same ``data_version`` before a writer that is not sole
#: looks at the store again (see the module docstring).
STEADY = 8
#: Changes of ``data_version`` in a row, each before it stayed STEADY
#: reads, after which a writer that is not sole reads the store at once...
BUSY = 8
#: ... for this many reads.
BUSY_READS = 1024


class StoredTail(object):
    """The store's rows of a session's lineage from some time on.

    Attributes
    ----------
    sole : bool
        Nothing but the session writes the lineage (see the module
        docstring); :attr:`stamp` is then not looked at.
    stamp : object
        Else, the store's ``data_version`` when this was last found to
        hold, and ``steady`` the reads that found it since; ``busy``
        counts the changes of it in a row that came before STEADY reads,
        and ``skips`` the reads left that go to the store at once.
    forked : bool
        The session was forked: never sole again.
    end : int or None
        From this time on, the store holds nothing of the lineage; ``None``:
        not known (the store is to be looked at).
    recent_from : int
        From this time on (``end`` or less), the store holds nothing of the
        lineage but what :attr:`recent` holds.
    recent : list
        The items (flat, as in a session's buffer) of the latest commit.
    flushes : int
        The session's count of commits when this was last brought up to
        date.

    """
    __slots__ = ('sole', 'forked', 'stamp', 'steady', 'busy', 'skips', 'end',
                 'recent_from', 'recent', 'flushes')

    def __init__(self):
        self.sole = self.forked = False
        self.stamp = None
        self.steady = self.busy = self.skips = self.flushes = 0
        self.forget()

    def enter(self, sole):
        """A run is open: know nothing of it yet; `sole`: whether its
        session holds its claim, and it was resumed from none."""
        self.sole = sole and not self.forked
        self.stamp = None
        self.forget()

    def fork(self):
        """A fork is next: parent and child may both write the run."""
        self.forked = True
        self.sole = False

    def forget(self):
        """Know nothing (until the store is looked at again)."""
        self.end = None
        self.recent_from, self.recent = 0, []

    def skipped(self):
        """Whether a writer that is not sole reads the store at once, with
        no look at ``data_version`` (the file is busy)."""
        if self.skips:
            self.skips -= 1
            return True
        return False

    def still_holds(self, stamp, flushes):
        """Whether what this knows holds where the store's ``data_version``
        is now `stamp` (a session that is not sole, its commit number
        `flushes`): if it has not changed for STEADY reads. If it has
        changed, what this knows is forgotten."""
        if stamp == self.stamp:
            self.steady += 1
            if self.steady < STEADY:
                return False
            self.busy = 0
            return True
        self.busy = self.busy + 1 if self.steady < STEADY else 1
        if self.busy >= BUSY:
            self.busy, self.skips = 0, BUSY_READS
        self.stamp, self.steady, self.flushes = stamp, 0, flushes
        self.forget()
        return False

    def looked(self, end, flushes):
        """The store was looked at after the session's commit number
        `flushes`: it holds nothing of the lineage from `end` on."""
        self.end = self.recent_from = end
        self.recent = []
        self.flushes = flushes

    def catch_up(self, flushes, last):
        """Bring this up to date with the session's commit number
        `flushes`, the last of which committed the items `last`; return
        whether to look at the store (:meth:`looked`): its end is not
        known, and this read comes at most one commit after the one
        before. A loop that reads seldom reads the store as it did,
        without looking at where it ends too."""
        since, self.flushes = flushes - self.flushes, flushes
        end = self.end
        if end is None:
            return since <= 1
        if since == 1 and last:
            # The store held nothing from `end` on: it holds what the
            # commit wrote there, wherever else it wrote.
            self.recent_from, self.recent = end, last
            self.end = max(end, max(last[0::3]) + 1)
        elif since > 1:
            self.forget()  # several commits: their items are gone
        return False

    def items_at(self, time):
        """Flat items that hold all the store holds of the lineage at
        `time`, with those of other times (which the caller skips); or
        ``None`` if the store is to be read."""
        if self.end is None or time < self.recent_from:
            return None
        return self.recent
