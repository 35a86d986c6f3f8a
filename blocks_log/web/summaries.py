"""What the runs page shows of a key for each run: its last, smallest and
largest value through the run's lineage, in time that grows with what the
runs hold, not with its square.

Read through its lineage, a run holds its ancestors' values too, and a
checkpoint each epoch begins a run: read so one by one, the 200 runs of
200 epochs of 500 iterations took 18 s. A run that holds nothing of the
key up to the last time its parent's lineage holds it (a run begun by a
checkpoint or by ``resume()`` holds only later times) adds its own values
to its parent's :class:`~blocks_log.web.streamed.Extremes`, read alone.
Any other run (one that wrote or deleted a value of an earlier time,
a lineage's first run, one whose parent is not in the source) is read
through its lineage.

"""
from blocks_log.sources import checked_run
from blocks_log.web import streamed


class Lineages(object):
    """The :class:`~blocks_log.web.streamed.Extremes` of `key` of each run
    of `source` (a :class:`~blocks_log.sources.Source`), through its
    lineage; each run read once.

    Parameters
    ----------
    source : Source
    key : str
    gone : callable, optional
        Asked before each run read: ``True`` stops with ``Gone``.

    """
    def __init__(self, source, key, gone=None):
        self.source, self.key, self.gone = source, key, gone
        self.parents = dict((run.uuid, run.parent) for run in source.runs())
        self.found = {}

    def of(self, uuid):
        """The extremes of the run `uuid`.

        Raises
        ------
        blocks_log.web.data.Gone
            If `gone()` says so.
        blocks_log.errors.DamagedLogError
            If a value read is a damaged chunk's placeholder.
        blocks_log.errors.LogError
            If a run cannot be read.
        """
        # Up the lineage to a run done already (in a loop: a lineage is
        # thousands deep), then down it.
        chain, at = [], uuid
        while at not in self.found:
            chain.append(at)
            at = self.parents.get(at)
            if at not in self.parents or at in chain:
                break
        for at in reversed(chain):
            if self.gone is not None and self.gone():
                from blocks_log.web.data import Gone
                raise Gone()
            before = self.found.get(self.parents[at])
            self.found[at] = self._through_lineage(at) if before is None else (
                self._after(at, before))
        return self.found[uuid]

    def _through_lineage(self, uuid):
        log = self.source.open(uuid)
        return streamed.extremes(log, self.key, lambda times, values: (
            self._check(uuid, times, values)))

    def _check(self, uuid, times, values):
        # A damaged chunk's placeholder among them: an error, never a
        # number left out.
        checked_run(uuid, {self.key: (times, values)})

    def _after(self, uuid, before):
        # The extremes of `before` (the parent's) followed by those of the
        # run's own values, if it holds none at or before the last time
        # `before` holds a value at; else read through its lineage. A
        # value it deleted counts as one it holds: it hides the parent's.
        own = streamed.Extremes()
        for times, values in streamed.windows(
                lambda start, stop: self.source.own_series(
                    uuid, self.key, start, stop), 0,
                self.source.own_end(uuid) or 0):
            if before.last_time is not None and times[0] <= before.last_time:
                return self._through_lineage(uuid)
            self._check(uuid, times, values)
            own.add(times, values)  # a deleted value is no number
        return before.followed_by(own)
