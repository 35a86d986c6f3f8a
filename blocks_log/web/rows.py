"""Rows of runs as the API sends them: the last rows of a run, for the
page's table, and CSV and JSON exports of runs, sent a piece at a time.

"""
import csv
import io
import json
from numbers import Integral

from blocks_log.numeric import finite
from blocks_log.tables import cell, csv_cell, row_windows, rows_of
from blocks_log.web import data

#: The most rows a request may ask for (more is a 400).
MAX_ROWS = 10000


def rows(source, query):
    """The rows of one run (``run``; ``keys``, ``start``, ``stop``,
    ``limit``: the last rows, 200 by default): ``{'columns': [...],
    'rows': [[time, value, ...]]}``, values as text, and a time past
    2 ** 53 too (see :func:`.data.exact_in_javascript`)."""
    uuid = query.get('run')
    if not uuid:
        raise data.BadRequest('name the run: ?run=uuid')
    keys = data.names(query, 'keys') or None
    start, stop = data.bounds(query)
    try:
        limit = int(query.get('limit') or 200)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_ROWS:
        raise data.BadRequest(
            'limit must be a whole number from 1 to {}'.format(MAX_ROWS))
    log = data.open_run(source, uuid)
    source.check_keys(keys, [log.h_uuid])
    columns, found = rows_of(log, keys, start, stop, tail=limit)
    return {'columns': columns, 'rows': [
        [data.exact_in_javascript(t)] + [cell(values.get(key))
                                         for key in columns]
        for t, values in found]}


#: Values an export reads at a time, about (see
#: :func:`blocks_log.tables.windows_of`): what one request holds, whatever
#: the size of the runs it exports.
EXPORT_VALUES = 4096


def _export(source, query):
    # The runs, columns and range of an export, checked before a byte of
    # it is sent: the keys named, or every key of the runs (sorted).
    uuids = data.names(query, 'runs')
    if not uuids:
        raise data.BadRequest('name the runs: ?runs=uuid,uuid')
    keys = data.names(query, 'keys') or None
    start, stop = data.bounds(query)
    uuids = [data.find(source, name) for name in uuids]
    source.check_keys(keys, uuids)
    columns = keys or sorted(set(key for uuid in uuids
                                 for key in source.keys(uuid)))
    return uuids, columns, start or 0, stop


def json_text(source, query):
    """JSON of the runs and keys of `query` (as :func:`csv_text`), every
    value logged in the range, as pieces of text to send in turn::

        {uuid: {key: [[time, value], ...]}}

    A finite number as a number; NaN, inf and anything else as the text a
    CSV cell holds (``'nan'``, ``'inf'``...), which JSON cannot hold as
    numbers. The runs and keys are checked at once; the values are read a
    key and about :data:`EXPORT_VALUES` of them at a time.

    Raises
    ------
    data.BadRequest, NotFound
    blocks_log.errors.UnknownKeyError
    """
    uuids, columns, start, stop = _export(source, query)

    def pieces():
        yield '{'
        for run_at, uuid in enumerate(uuids):
            log = source.open(uuid)
            yield '{}{}: {{'.format(', ' if run_at else '', json.dumps(uuid))
            for key_at, key in enumerate(columns):
                yield '{}{}: ['.format(', ' if key_at else '', json.dumps(key))
                first = True
                for rows in row_windows(log, [key], start, stop,
                                        EXPORT_VALUES):
                    pairs = [[time, _json_value(values[key])]
                             for time, values in rows if key in values]
                    if pairs:
                        text = json.dumps(pairs, allow_nan=False,
                                          default=str)[1:-1]
                        yield text if first else ', ' + text
                        first = False
                yield ']'
            yield '}'
        yield '}'
    return pieces()


def _json_value(value):
    # What JSON holds of a value: a finite number as one (numpy's too), and
    # anything else as the text of its CSV cell.
    if finite(value) is not None:
        return int(value) if isinstance(value, Integral) else float(value)
    return csv_cell(value)


def csv_text(source, query):
    """CSV of the runs and keys of `query` (``runs``, ``keys``, ``start``,
    ``stop``): what the page shows, a row per run and time, a column per
    key named (or of the runs, sorted), as pieces of text to send in turn.
    The runs and keys are checked at once; the rows are read about
    :data:`EXPORT_VALUES` values at a time.

    Raises
    ------
    data.BadRequest, NotFound
    blocks_log.errors.UnknownKeyError
    """
    uuids, columns, start, stop = _export(source, query)

    def lines(rows):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator='\n')
        writer.writerows(rows)
        return out.getvalue()

    def pieces():
        yield lines([['run', 'time'] + columns])
        for uuid in uuids:
            for rows in row_windows(source.open(uuid), columns, start,
                                    stop, EXPORT_VALUES):
                yield lines([[uuid, time] + [csv_cell(values.get(key))
                                             for key in columns]
                             for time, values in rows])
    return pieces()
