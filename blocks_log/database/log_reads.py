"""What a database log reads for analysis: records, series, a key's
history, the clock, restarts and the last time, and the data frame; each
in a few queries over the lineage, never one per row.

"""
from blocks_log import codec
from blocks_log.selection import check_keys, check_range


class LogReads(object):
    """The reads of :class:`~blocks_log.database.log.DatabaseLog` over its
    ``_session`` (see :class:`~blocks_log.database.reads.MergedReads`)."""
    __slots__ = ()

    def records(self, start=None, stop=None):
        """Iterate over ``(time, key, value)`` records in time order.

        Reads with a few queries over the lineage, not one per row.

        """
        start, stop = check_range(start, stop)
        from blocks_log import analysis  # not at start-up (issue 21)
        return analysis.series_records(
            self._session.read_series(None, start or 0, stop))

    def series(self, keys=None, start=None, stop=None):
        """As :meth:`TrainingLogBase.series`, read with a few queries: times
        as ``range`` or ``array('q')``, numbers as arrays where they can."""
        keys = check_keys(keys)
        start, stop = check_range(start, stop)
        return self._session.read_series(keys, start or 0, stop)

    def restarts(self):
        """Where this run and the runs it was resumed from began, each
        after the one it resumed: ``[(uuid, time)]``, oldest first, the
        first time each holds a value of its own (``None`` if it holds
        none); empty for a run that resumed nothing. What a chart marks as
        a restart.

        Raises
        ------
        blocks_log.errors.ClosedLogError
            If the log is closed.
        """
        return self._session.restarts()

    def clock(self, start=None, stop=None):
        """When each time was logged: ``(times, walls)``, in increasing
        time, `walls` a wall clock (``time.time()``, seconds since the
        epoch), read through the lineage (the nearest run winning, as for
        values).

        A time's wall is the stamp of the first commit that held a value
        at that time: in a training loop, when ``status['iterations_done']``
        reached the latest time the commit holds (so, committing each
        iteration, when that iteration was done); otherwise when the
        commit was made. With ``commit_every`` or ``commit_seconds`` the
        iterations of one commit share the wall of the last of them. A
        time committed into a file of schema version 5 or before, held by
        one of Blocks' runs, or not committed yet has none.

        Parameters
        ----------
        start, stop : int (numpy's too), optional
            The range of times, ``[start, stop)``.

        Returns
        -------
        tuple
            ``(times, walls)``: a ``range`` or ``array('q')``, and an
            ``array('d')`` or a list of floats.

        Raises
        ------
        TypeError, ValueError
            If `start` or `stop` is not a time.
        blocks_log.errors.ClosedLogError
            If the log is closed.
        """
        start, stop = check_range(start, stop)
        return self._session.read_clock(start or 0, stop)

    def last_time(self, start=None, stop=None):
        """As :meth:`TrainingLogBase.last_time`: found from an index of the
        rows and the chunks' last times, then read in a window below it."""
        start, stop = check_range(start, stop)
        session = self._session
        start, stop = session.bounded(start or 0, stop)
        bound = session.read_end(start, stop)
        width = 64
        while bound is not None and bound > start:
            low = max(start, bound - width)
            times = [times[-1] for times, _ in session.read_series(
                None, low, bound).values() if len(times)]
            if times:
                return max(times)
            bound, width = low, width * 4
        return None

    def history(self, key):
        """Return the ``(time, value)`` pairs of `key` in time order,
        reading that key only.

        Raises
        ------
        TypeError
            If `key` is not a str.
        """
        codec.check_key(key)
        times, values = self._session.read_series([key])[key]
        return list(zip(times, values))

    def to_dataframe(self, keys=None, start=None, stop=None):
        """Return the log as a :class:`pandas.DataFrame`.

        As :meth:`TrainingLogBase.to_dataframe`, reading the selected keys
        and times only, with a few queries.

        """
        keys = check_keys(keys)
        start, stop = check_range(start, stop)
        from blocks_log import analysis  # not at start-up (issue 21)
        pandas = analysis.import_pandas()
        return analysis.series_to_dataframe(
            pandas, self._session.read_series(keys, start or 0, stop))
