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

numpy scalars and 0-d tensors with ``.item()`` (numpy, torch, jax) are
stored as their number. numpy is imported only when an array is decoded.

"""
import base64
import json
import pickle

BYTES_TAG = b'B'
JSON_TAG = b'J'
ARRAY_TAG = b'N'
PICKLE_TAG = b'P'

_INT64_MIN, _INT64_MAX = -2 ** 63, 2 ** 63 - 1
# Array dtypes whose bytes are the whole value (no Python objects inside).
_ARRAY_KINDS = frozenset('biufcmMSU')


class Pickled(object):
    """A pickled value read without the pickle opt-in: left unpickled.

    Attributes
    ----------
    data : bytes
        The pickle. ``pickle.loads(value.data)`` runs whatever code the
        pickle names: do it only for a database you trust.

    """
    __slots__ = ('data',)

    def __init__(self, data):
        self.data = data

    def __repr__(self):
        return ('<pickled value, {} bytes: open the log with '
                'allow_pickle=True to read it>'.format(len(self.data)))

    def __eq__(self, other):
        return isinstance(other, Pickled) and other.data == self.data

    def __hash__(self):
        return hash(self.data)


def _unencodable(value, key):
    where = '' if key is None else ' for key {!r}'.format(key)
    return TypeError(
        "cannot store a value of type {}{}: a persistent log stores None, "
        "bool, int, float, str, bytes, numpy arrays and scalars, and lists, "
        "tuples and dicts of these (open the log with allow_pickle=True to "
        "pickle anything else)".format(type(value).__name__, where))


def _as_number(value):
    """The number a numpy scalar or 0-d tensor stands for, else None."""
    item = getattr(value, 'item', None)
    if item is not None and getattr(value, 'shape', None) == ():
        return item()
    return None


def _is_array(value):
    return type(value).__module__ == 'numpy' and type(value).__name__ == (
        'ndarray')


def _to_json(value, key):
    """`value` as a JSON-able structure with tags (see module docstring)."""
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return value
    if kind is list:
        return [_to_json(item, key) for item in value]
    if kind is tuple:
        return {'t': [_to_json(item, key) for item in value]}
    if kind is dict:
        return {'d': [[_to_json(k, key), _to_json(v, key)]
                      for k, v in value.items()]}
    if kind is bytes:
        return {'b': base64.b64encode(value).decode('ascii')}
    if _is_array(value) and value.shape != ():
        dtype, shape, data = _array_parts(value, key)
        return {'a': [dtype, shape, base64.b64encode(data).decode('ascii')]}
    number = _as_number(value)
    if number is not None:
        return _to_json(number, key)
    for base in (bool, int, float, str, bytes, list, tuple, dict):
        if isinstance(value, base):
            return _to_json(base(value), key)
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
            return base64.b64decode(body)
        if tag == 'a':
            dtype, shape, data = body
            return _array_from_parts(dtype, shape, base64.b64decode(data))
        raise ValueError('unknown tag {!r} in a stored value'.format(tag))
    return value


def _array_parts(array, key):
    if array.dtype.kind not in _ARRAY_KINDS or array.dtype.fields:
        raise _unencodable(array, key)
    return array.dtype.str, list(array.shape), array.tobytes(order='C')


def _array_from_parts(dtype, shape, data):
    import numpy
    return numpy.frombuffer(data, dtype=numpy.dtype(dtype)).reshape(
        shape).copy()


def encode(value, key=None, allow_pickle=False):
    """Return the SQL value that stores `value`.

    Parameters
    ----------
    value : object
    key : str, optional
        Named in the error message.
    allow_pickle : bool
        Pickle what has no encoding of its own instead of refusing it.

    Returns
    -------
    None, int, float, str or bytes

    Raises
    ------
    TypeError
        If `value` (or anything inside it) has no encoding and
        `allow_pickle` is false; the message names `key` and the type.

    """
    kind = type(value)
    # The common cases first: this runs once per logged value.
    if kind is float:
        if value == value:
            return value
    elif kind is int:
        if _INT64_MIN <= value <= _INT64_MAX:
            return value
    elif kind is str or value is None:
        return value
    elif kind is bytes:
        return BYTES_TAG + value
    elif _is_array(value) and value.shape != ():
        try:
            dtype, shape, data = _array_parts(value, key)
        except TypeError:
            if not allow_pickle:
                raise
            return PICKLE_TAG + pickle.dumps(value, protocol=4)
        header = json.dumps([dtype, shape]).encode('ascii')
        return ARRAY_TAG + header + b'\n' + data
    try:
        structure = _to_json(value, key)
    except TypeError:
        if not allow_pickle:
            raise
        return PICKLE_TAG + pickle.dumps(value, protocol=4)
    if type(structure) in (int, float, str) and type(structure) is not kind:
        # A numpy scalar or a subclass: stored as the plain value it is.
        return encode(structure, key, allow_pickle)
    return JSON_TAG + json.dumps(structure, separators=(',', ':'),
                                 ensure_ascii=False).encode('utf-8')


def decode(stored, allow_pickle=False):
    """Return the value that the SQL value `stored` holds.

    Parameters
    ----------
    stored : None, int, float, str or bytes
        As :func:`encode` made it.
    allow_pickle : bool
        Unpickle pickled values. Without it they come back as
        :class:`Pickled` placeholders and no code runs.

    Raises
    ------
    ValueError
        If a BLOB carries an unknown tag (the file was not written by
        blocks_log, or is corrupt).

    """
    if type(stored) is not bytes:
        return stored
    tag, body = stored[:1], stored[1:]
    if tag == BYTES_TAG:
        return body
    if tag == JSON_TAG:
        return _from_json(json.loads(body.decode('utf-8')))
    if tag == ARRAY_TAG:
        header, _, data = body.partition(b'\n')
        dtype, shape = json.loads(header.decode('ascii'))
        return _array_from_parts(dtype, shape, data)
    if tag == PICKLE_TAG:
        return pickle.loads(body) if allow_pickle else Pickled(body)
    raise ValueError('unknown tag {!r} in a stored value'.format(tag))
