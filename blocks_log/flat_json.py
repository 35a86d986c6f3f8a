"""The JSON of the small records a log writes as it opens and closes (its
claim, its run's summary), made without importing :mod:`json` when it can.

:mod:`json` imports :mod:`re` and :mod:`enum`: about 3 ms of a new
process, which is more than a third of what opening a log may cost over a
raw ``sqlite3`` script (issue 21). These records hold ints, ``None``, plain
names and lists of them, whose JSON is their text; :func:`dumps` writes
that text itself and gives anything else to :mod:`json`. Reading is
:mod:`json`'s, at the first record read.

"""


class _NotPlain(Exception):
    """A value whose JSON is not its text, or not in quotes."""


def dumps(record):
    """Return ``json.dumps(record, sort_keys=True, default=repr)``.

    The same text, made without importing :mod:`json` when `record` maps
    names to ints, ``None``, plain text and lists of those; plain text is
    printable ASCII without ``"`` or ``\\``, which JSON leaves as it is.

    Parameters
    ----------
    record : dict
        A claim or a summary: ``str`` keys. Other keys, and values of any
        other type, are :mod:`json`'s to write.

    Returns
    -------
    str

    Raises
    ------
    TypeError
        If `record` holds a key that is not a string, a number, a bool or
        ``None``, or keys of types that do not sort together (as
        :func:`json.dumps` raises).

    """
    try:
        return '{' + ', '.join(
            '{}: {}'.format(_text(name, ()), _text(value, (list,)))
            for name, value in sorted(record.items(), key=_name)) + '}'
    except _NotPlain:
        import json
        return json.dumps(record, sort_keys=True, default=repr)


def _name(item):
    if type(item[0]) is not str:
        raise _NotPlain
    return item[0]


def _text(value, containers):
    kind = type(value)
    if kind is int:
        return repr(value)
    if value is None:
        return 'null'
    if kind is str:
        if (value.isascii() and value.isprintable() and '"' not in value
                and '\\' not in value):
            return '"' + value + '"'
    elif kind in containers:
        return '[' + ', '.join(_text(item, ()) for item in value) + ']'
    raise _NotPlain
