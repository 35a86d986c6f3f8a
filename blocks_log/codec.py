"""Encoding of values for persistent logs (SPEC section 5).

A value is stored as an SQL value. The common ones are stored natively, so
that SQL can read them and they cost nothing to encode: ``None``, ``int``
within 64 bits, ``float`` (inf too) and ``str``. Every other value is a BLOB
whose first byte says what it holds:

``B``
    raw ``bytes``.
``J``
    tagged JSON (UTF-8): ``bool``, NaN, ints beyond 64 bits, and ``list``,
    ``tuple`` and ``dict`` of any encodable values, nested. A JSON object is
    always a one-key tag: ``{"t": [...]}`` a tuple, ``{"d": [[k, v], ...]}``
    a dict, ``{"b": base64}`` bytes, ``{"a": [dtype, shape, base64]}`` a
    numpy array.
``N``
    a numpy array: a JSON header ``[dtype, shape]``, a newline, then its
    bytes in C order.
``P``
    a pickle; written and read only with the explicit opt-in.
``X``
    a deleted value (``del row[key]``): it hides the values of the runs a
    run was resumed from.

Everything :func:`encode` accepts reads back: a string that UTF-8 cannot
hold (lone surrogates), a recursive container, nesting deeper than
:data:`MAX_DEPTH` and numbers Python cannot hold (``numpy.longdouble``) are
refused when written, so that no buffer ever holds a value that a commit
would fail on. :func:`decode` never raises: what it cannot read comes back
as an :class:`~blocks_log.placeholders.Undecodable` saying why.

numpy scalars and 0-d tensors with ``.item()`` (numpy, torch, jax) are
stored as their number. numpy is imported only when an array is decoded,
and json at the first tagged JSON value encoded or read (but NaN, and the
empty list of a new log's status): a log that opens, writes numbers and
closes never imports it (issue 21).

"""
from blocks_log import placeholders
from blocks_log.placeholders import Pickled, Undecodable

# Where pickles made when the placeholders were defined here find them.
DamagedChunk = placeholders.DamagedChunk
DamagedBatch = placeholders.DamagedBatch

BYTES_TAG = b'B'
JSON_TAG = b'J'
ARRAY_TAG = b'N'
PICKLE_TAG = b'P'
DELETED_TAG = b'X'

#: The stored form of a deleted value.
DELETED_STORED = DELETED_TAG
#: The stored forms of NaN (of any sign or payload) and of an empty list
#: (a new log's ``_epoch_ends``): what JSON makes of them, known without
#: importing json.
NAN_STORED = JSON_TAG + b'NaN'
EMPTY_LIST_STORED = JSON_TAG + b'[]'


class _Deleted(object):
    """What a deleted value reads as: one object, which no value logged
    can be (a logged ``b'X'`` reads as those bytes, never as this)."""
    __slots__ = ()

    def __repr__(self):
        return '<deleted>'


#: What :func:`decode` gives for a deleted value; compare with ``is``.
DELETED = _Deleted()
#: Containers nested deeper than this are refused (JSON and Python's
#: recursion limit would refuse to read them back).
MAX_DEPTH = 100
#: Keys longer than this, in bytes of UTF-8, are refused: every store
#: indexes its keys, and PostgreSQL's index refuses about 2,700 bytes.
MAX_KEY_BYTES = 1000

#: The types of stored values whose size is their value's (arrays and
#: bytes as BLOBs, texts), which a buffer counts in bytes.
SIZED = frozenset([bytes, str])

_INT64_MIN, _INT64_MAX = -2 ** 63, 2 ** 63 - 1
# Array dtypes whose bytes are the whole value (no Python objects inside).
_ARRAY_KINDS = frozenset('biufcmMSU')
# What an .item() may give that is stored as it is.
_PLAIN_ITEMS = (bool, int, float, str, bytes)


def _where(key):
    return '' if key is None else ' for key {!r}'.format(key)


def _unencodable(value, key):
    return TypeError(
        "cannot store a value of type {}{}: a persistent log stores None, "
        "bool, int, float, str, bytes, numpy arrays and scalars, and lists, "
        "tuples and dicts of these (open the log with allow_pickle=True to "
        "pickle anything else)".format(type(value).__name__, _where(key)))


def utf8_size(text):
    """The bytes of `text` (a str that :func:`check_text` passes) as
    UTF-8: its length, where it is ASCII."""
    return len(text) if text.isascii() else len(text.encode('utf-8'))


def check_text(text, key=None, what='value'):
    """Raise ``ValueError`` unless `text` can be stored as UTF-8.

    Lone surrogates (what :func:`os.listdir` gives for names that are not
    UTF-8) cannot: a database would refuse them at commit time.

    """
    if not text.isascii():
        try:
            text.encode('utf-8')
        except UnicodeEncodeError as error:
            raise ValueError('cannot store a {}{} that is not valid Unicode '
                             '({}); encode it with errors="surrogateescape" '
                             'and store the bytes'.format(what, _where(key),
                                                          error.reason))


def check_key(key):
    """Raise unless `key` can be a key of a persistent log: a ``str`` that
    every store can hold and index.

    Raises
    ------
    TypeError
        If `key` is not a ``str``.
    ValueError
        If UTF-8 cannot hold it (lone surrogates), it holds NUL (which
        PostgreSQL's text refuses), or it takes more than
        :data:`MAX_KEY_BYTES` bytes of UTF-8 (PostgreSQL's index of keys
        refuses about 2,700).

    """
    if not isinstance(key, str):
        raise TypeError('keys must be strings, got {!r} ({})'.format(
            key, type(key).__name__))
    check_text(key, what='key')
    if '\x00' in key:
        raise ValueError('cannot store the key {!r}: it holds NUL (\\x00), '
                         'which a database key cannot'.format(key))
    if len(key) > MAX_KEY_BYTES // 4 and len(key.encode(
            'utf-8', 'surrogatepass')) > MAX_KEY_BYTES:
        raise ValueError('cannot store the key {!r}...: it takes more than '
                         '{} bytes of UTF-8'.format(key[:40], MAX_KEY_BYTES))


def _scalar_item(value, key):
    """The plain value a numpy scalar or 0-d tensor stands for, else None."""
    item = getattr(value, 'item', None)
    if item is None or getattr(value, 'shape', None) != ():
        return None
    if _is_array(value):
        _array_parts(value, key)  # refuses what .item() would fail on
    kind = type(value)
    if hasattr(kind, 'mask') and bool(value.mask):  # numpy.ma's types
        # numpy.ma.masked: its .item() is the 0.0 (or whatever) under the
        # mask, which would read back as a number logged.
        raise TypeError(
            'cannot store a masked value{}: it stands for no number (log '
            "float('nan'), or leave the key out, where a value is "
            'missing)'.format(_where(key)))
    plain = item()
    if type(plain) not in _PLAIN_ITEMS:
        # numpy.longdouble, complex, dates: no SQL value holds them.
        raise TypeError(
            'cannot store a {}{}: its .item() is a {}, not a plain Python '
            'value ({})'.format(type(value).__name__, _where(key),
                                type(plain).__name__, _how_to_store(plain)))
    if type(plain) in _CACHED_ITEMS and kind.__module__ == 'numpy' and (
            not _is_array(value)):
        # A numpy scalar type (never another shape; numpy.ma's types are
        # numpy.ma's): its next values go straight to their .item()
        # (Blocks' channels are float32s: 6,000 instructions a value
        # rather than 19,600, callgrind).
        _PLAIN_SCALARS.add(kind)
    return plain


# The numpy scalar types whose .item() a store holds (see _scalar_item),
# of the items that encode() stores as _encode_other() would (a bytes_'s
# bytes would be tagged otherwise).
_PLAIN_SCALARS = set()
_CACHED_ITEMS = frozenset([bool, int, float, str])


def _how_to_store(plain):
    # What to log instead of a scalar whose .item() is `plain`: advice
    # that works for it (float() fails on a complex or a date).
    if isinstance(plain, complex):
        return 'log its .real and .imag, or abs(), as numbers of their own'
    if hasattr(plain, 'isoformat') or hasattr(plain, 'total_seconds'):
        return ('log str(value), or a number: value.astype("int64") counts '
                'its units')
    return 'convert it with float() first'


def _is_array(value):
    return type(value).__module__ == 'numpy' and type(value).__name__ == (
        'ndarray')


def _base64():
    # Imported at the first bytes encoded or read, not at start-up.
    import base64
    return base64


def _pickle():
    # Imported at the first pickle written or read, not at start-up.
    import pickle
    return pickle


def _json():
    # Imported at the first value that is not native, not at start-up
    # (with re and enum, 3 ms of a new process: issue 21).
    import json
    return json


# The types _to_json() gives as they are, and a list or tuple of which it
# gives whole.
_NUMBERS = frozenset([bool, int, float, type(None)])


def _to_json(value, key, depth=0):
    """`value` as a JSON-able structure with tags (see module docstring)."""
    if depth > MAX_DEPTH:
        raise ValueError('cannot store the value{}: containers nested deeper '
                         'than {} levels, or holding themselves'.format(
                             _where(key), MAX_DEPTH))
    kind = type(value)
    if kind in _NUMBERS:
        return value
    if kind is str:
        check_text(value, key)
        return value
    depth += 1
    if kind is list:
        if _NUMBERS.issuperset(map(type, value)):
            # As it is (``_epoch_ends``, an int an epoch, encoded at each
            # epoch's end: 0.7 us an int item by item, a run of 10,000
            # epochs its slowest part), told in C.
            return value
        return [_to_json(item, key, depth) for item in value]
    if kind is tuple:
        if _NUMBERS.issuperset(map(type, value)):
            return {'t': list(value)}
        return {'t': [_to_json(item, key, depth) for item in value]}
    if kind is dict:
        return {'d': [[_to_json(k, key, depth), _to_json(v, key, depth)]
                      for k, v in value.items()]}
    if kind is bytes:
        return {'b': _base64().b64encode(value).decode('ascii')}
    if _is_array(value) and value.shape != ():
        dtype, shape, data = _array_parts(value, key)
        return {'a': [dtype, shape, _base64().b64encode(data).decode('ascii')]}
    plain = _scalar_item(value, key)
    if plain is not None:
        return _to_json(plain, key, depth - 1)
    for base in (bool, int, float, str, bytes, list, tuple, dict):
        if isinstance(value, base):
            return _to_json(base(value), key, depth - 1)
    raise _unencodable(value, key)


def _from_json(value):
    if isinstance(value, list):
        return [_from_json(item) for item in value]
    if isinstance(value, dict):
        (tag, body), = value.items()
        if tag == 't':
            return tuple(_from_json(item) for item in body)
        if tag == 'd':
            return dict((_from_json(k), _from_json(v)) for k, v in body)
        if tag == 'b':
            return _base64().b64decode(body)
        if tag == 'a':
            dtype, shape, data = body
            return _array_from_parts(dtype, shape, _base64().b64decode(data))
        raise ValueError('unknown tag {!r} in a stored value'.format(tag))
    return value


def _array_parts(array, key):
    if array.dtype.kind not in _ARRAY_KINDS or array.dtype.fields:
        raise _unencodable(array, key)
    data = array.tobytes(order='C')
    if array.dtype.kind == 'U':
        reason = _bad_code_points(array.dtype.str, data)
        if reason:
            raise ValueError('cannot store the numpy array{}: {}'.format(
                _where(key), reason))
    return array.dtype.str, list(array.shape), data


def _bad_code_points(dtype, data):
    # Why the UCS-4 `data` of a numpy string array of `dtype` cannot be
    # read back as Python strings, or None.
    import numpy
    codes = numpy.frombuffer(data, dtype=dtype[0] + 'u4')
    if ((codes > 0x10FFFF) | ((codes >= 0xD800) & (codes <= 0xDFFF))).any():
        return ('it holds code points that are no Unicode characters '
                '(beyond U+10FFFF, or lone surrogates)')
    return None


def _array_from_parts(dtype, shape, data):
    import numpy
    dtype = numpy.dtype(dtype)
    if dtype.kind == 'U':
        reason = _bad_code_points(dtype.str, data)
        if reason:
            raise ValueError(reason)
    return numpy.frombuffer(data, dtype=dtype).reshape(shape).copy()


def encode(value, key=None, allow_pickle=False, max_size=None):
    """Return the SQL value that stores `value`.

    Parameters
    ----------
    value : object
    key : str, optional
        Named in the error message.
    allow_pickle : bool
        Pickle what has no encoding of its own instead of refusing it.
    max_size : int, optional
        The most bytes a stored text or BLOB may take (a store's limit).

    Returns
    -------
    None, int, float, str or bytes

    Raises
    ------
    TypeError
        If `value` (or anything inside it) has no encoding and
        `allow_pickle` is false; the message names `key` and the type.
    ValueError
        If `value` holds a string with lone surrogates, holds itself, is
        nested deeper than :data:`MAX_DEPTH`, or stored would take more
        than `max_size` bytes.

    """
    kind = type(value)
    # The common cases first: this runs once per logged value.
    if kind is float:
        return value if value == value else NAN_STORED
    elif kind is int:
        if _INT64_MIN <= value <= _INT64_MAX:
            return value
    elif kind is str:
        if not value.isascii():
            check_text(value, key)
        if max_size is not None and len(value) > max_size // 4:
            _check_size(utf8_size(value), key, max_size)
        return value
    elif value is None:
        return value
    elif kind is bytes:
        if max_size is not None:
            _check_size(len(value) + 1, key, max_size)
        return BYTES_TAG + value
    stored = _encode_other(value, kind, key, allow_pickle)
    if max_size is not None and type(stored) in (str, bytes):
        _check_size(len(stored), key, max_size)
    return stored


def _encode_other(value, kind, key, allow_pickle):
    # encode() of what is not a native value.
    if kind is list and not value:
        return EMPTY_LIST_STORED
    if kind in _PLAIN_SCALARS:  # a numpy float32, int64...: its number
        return encode(value.item(), key, allow_pickle)
    if _is_array(value) and value.shape != ():
        try:
            dtype, shape, data = _array_parts(value, key)
        except TypeError:
            if not allow_pickle:
                raise
            return PICKLE_TAG + _pickle().dumps(value, protocol=4)
        header = _json().dumps([dtype, shape]).encode('ascii')
        return ARRAY_TAG + header + b'\n' + data
    try:
        structure = _to_json(value, key)
    except TypeError:
        if not allow_pickle:
            raise
        return PICKLE_TAG + _pickle().dumps(value, protocol=4)
    if type(structure) in (int, float, str) and type(structure) is not kind:
        # A numpy scalar or a subclass: stored as the plain value it is.
        return encode(structure, key, allow_pickle)
    return _tagged_json(structure)


def _check_size(size, key, max_size):
    if size > max_size:
        raise ValueError('cannot store the value{}: it takes {:,} bytes, and '
                         'this store holds at most {:,} in one value'.format(
                             _where(key), size, max_size))


def encode_json(value):
    """`value` (encodable) as a tagged JSON BLOB, whatever its type: for a
    store that cannot hold it natively (text with NUL in PostgreSQL)."""
    return _tagged_json(_to_json(value, None))


def _tagged_json(structure):
    return JSON_TAG + _json().dumps(structure, separators=(',', ':'),
                                    ensure_ascii=False).encode('utf-8')


def decode(stored, allow_pickle=False):
    """Return the value that the SQL value `stored` holds.

    Never raises: a value that cannot be read comes back as an
    :class:`Undecodable` saying why, so that one bad value never hides the
    rest of its row.

    Parameters
    ----------
    stored : None, int, float, str or bytes
        As :func:`encode` made it.
    allow_pickle : bool
        Unpickle pickled values. Without it they come back as
        :class:`Pickled` placeholders and no code runs.

    Returns
    -------
    object
        The value; :data:`DELETED` for a deleted value.

    """
    if type(stored) is not bytes:
        return stored
    tag, body = stored[:1], stored[1:]
    try:
        if tag == BYTES_TAG:
            return body
        if tag == JSON_TAG:
            if stored == EMPTY_LIST_STORED:  # read as a new log closes
                return []
            return _from_json(_json().loads(body.decode('utf-8')))
        if tag == ARRAY_TAG:
            header, _, data = body.partition(b'\n')
            dtype, shape = _json().loads(header.decode('ascii'))
            return _array_from_parts(dtype, shape, data)
        if tag == PICKLE_TAG:
            return _pickle().loads(body) if allow_pickle else Pickled(body)
        if stored == DELETED_STORED:
            return DELETED
    except Exception as error:  # anything a forged BLOB can make them raise
        return Undecodable(stored, '{}: {}'.format(type(error).__name__,
                                                   error))
    return Undecodable(stored, 'unknown tag {!r}'.format(tag))
