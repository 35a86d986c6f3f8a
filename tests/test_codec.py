"""Round trips of the value codec (SPEC section 5), and of the JSON of a
claim or a summary (:mod:`blocks_log.flat_json`)."""
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blocks_log import codec, flat_json, placeholders

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(),
    st.text(), st.binary())
VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(st.one_of(st.text(max_size=4), st.integers()),
                        children, max_size=4)),
    max_leaves=12)


def same(a, b):
    """Equal with their types, NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict):
        return (list(a) == list(b) and
                all(same(a[key], b[key]) for key in a))
    return a == b


@settings(max_examples=300, deadline=None)
@given(VALUES)
def test_round_trip(value):
    assert same(codec.decode(codec.encode(value)), value)


def test_native_values_are_stored_as_themselves():
    for value in (None, 1, -2 ** 63, 2 ** 63 - 1, 1.5, float('inf'), 'x'):
        assert codec.encode(value) is value or codec.encode(value) == value


def test_nan_and_big_ints_are_not_native():
    assert isinstance(codec.encode(float('nan')), bytes)
    assert isinstance(codec.encode(2 ** 63), bytes)
    assert isinstance(codec.encode(True), bytes)


def test_the_forms_made_without_json_are_what_json_makes():
    # NaN and a new log's empty _epoch_ends are encoded (and the empty list
    # read) without importing json at start-up (issue 21).
    made = [codec.JSON_TAG + json.dumps(value).encode('ascii')
            for value in (float('nan'), [])]
    assert [codec.encode(float('nan')), codec.encode(-float('nan')),
            codec.encode([])] == [made[0], made[0], made[1]]
    first, second = (codec.decode(made[1]) for _ in range(2))
    first.append(1)  # each read is a list of its own
    assert second == [] and type(second) is list
    assert math.isnan(codec.decode(made[0]))


def test_numpy_values():
    numpy = pytest.importorskip('numpy')
    assert codec.decode(codec.encode(numpy.float32(0.5))) == 0.5
    assert type(codec.decode(codec.encode(numpy.float32(0.5)))) is float
    assert type(codec.decode(codec.encode(numpy.int64(3)))) is int
    assert type(codec.decode(codec.encode(numpy.bool_(True)))) is bool
    assert codec.decode(codec.encode(numpy.array(2.5))) == 2.5
    for array in (numpy.arange(6, dtype='int16').reshape(2, 3),
                  numpy.zeros((0, 3)), numpy.array([1 + 2j]),
                  numpy.array(['ab', 'c']),
                  numpy.arange(4.0)[::2]):
        back = codec.decode(codec.encode(array))
        assert back.dtype == array.dtype and back.shape == array.shape
        assert (back == array).all()
    nested = codec.decode(codec.encode({'w': (numpy.ones(2),)}))
    assert nested['w'][0].tolist() == [1.0, 1.0]


def test_object_arrays_are_refused():
    numpy = pytest.importorskip('numpy')
    with pytest.raises(TypeError, match="key 'w'"):
        codec.encode(numpy.array([object()]), 'w')


class Opaque(object):
    def __eq__(self, other):
        return isinstance(other, Opaque)


def test_unknown_types_are_refused_naming_key_and_type():
    with pytest.raises(TypeError, match=r"Opaque for key 'loss'"):
        codec.encode(Opaque(), 'loss')
    with pytest.raises(TypeError, match='set'):
        codec.encode([{1, 2}], 'k')


def test_pickle_opt_in():
    stored = codec.encode(Opaque(), 'k', allow_pickle=True)
    assert codec.decode(stored, allow_pickle=True) == Opaque()
    placeholder = codec.decode(stored)
    assert isinstance(placeholder, placeholders.Pickled)
    assert 'allow_pickle' in repr(placeholder)


@pytest.mark.parametrize('stored, reason', [
    (b'Zjunk', 'unknown tag'), (b'J{"t": [1', 'JSONDecodeError'),
    (b'J{"q": 1}', 'unknown tag'), (b'J\xff', 'UnicodeDecodeError'),
    (b'N["<f8", [3]]\nxx', 'ValueError'), (b'N', 'JSONDecodeError')])
def test_what_cannot_be_decoded_is_a_placeholder_saying_why(stored, reason):
    if stored.startswith(b'N['):
        pytest.importorskip('numpy')
    value = codec.decode(stored)
    assert isinstance(value, placeholders.Undecodable)
    assert reason in value.reason and value.data == stored


class Recursive(list):
    pass


@pytest.mark.parametrize('make, error, words', [
    (lambda: 'caf\udce9', ValueError, 'not valid Unicode'),
    (lambda: ['ok', {'x': ('\ud800',)}], ValueError, 'not valid Unicode'),
    (lambda: _recursive(), ValueError, 'nested deeper'),
    (lambda: _nested(codec.MAX_DEPTH + 5), ValueError, 'nested deeper'),
])
def test_what_would_not_read_back_is_refused_naming_the_key(make, error,
                                                            words):
    with pytest.raises(error, match=words) as raised:
        codec.encode(make(), 'loss')
    assert "'loss'" in str(raised.value)


def _recursive():
    value = [1]
    value.append(value)
    return value


def _nested(depth):
    value = 1
    for _ in range(depth):
        value = [value]
    return value


def test_nesting_up_to_the_bound_reads_back():
    value = _nested(codec.MAX_DEPTH)
    assert codec.decode(codec.encode(value)) == value


def test_keys_that_cannot_be_stored():
    with pytest.raises(TypeError, match='keys must be strings'):
        codec.check_key(1)
    with pytest.raises(ValueError, match='key'):
        codec.check_key('name\udcff')
    codec.check_key("any 'text', \"quotes\" and \u00e9")


def test_numpy_strings_beyond_unicode_are_refused_and_never_read():
    # Code points beyond U+10FFFF (or lone surrogates) in a numpy string
    # array: Python cannot make them strings, so that reading one raised.
    numpy = pytest.importorskip('numpy')
    for codes in ([0x41, 0x110000], [0xD800]):
        bad = numpy.array(codes, dtype=numpy.uint32).view('<U1')
        for value in (bad, bad[-1:].reshape(()), [bad], {'a': (bad,)}):
            with pytest.raises(ValueError, match="'k'.*code points"):
                codec.encode(value, 'k')
        # A stored one (forged, or from before) reads as a placeholder.
        good = codec.encode(numpy.array(['AB']), 'k')
        forged = good.replace(numpy.array(['AB']).tobytes(),
                              bad.tobytes()[:8])
        assert isinstance(codec.decode(forged), placeholders.Undecodable)
    assert codec.decode(codec.encode(numpy.array(['ok', 'é']))).tolist() == [
        'ok', 'é']


def test_what_takes_more_than_the_store_holds_is_refused():
    # A store's bound on one stored value (SQLite's 10**9 bytes), for
    # every kind of value; numbers take no room of that kind.
    values = ['x' * 11, 'é' * 6, b'x' * 10, ['x' * 9], (1, 2, 3, 4),
              {'a': 'b' * 8}, 2 ** 70]
    for value in values:
        with pytest.raises(ValueError, match="'k'.*holds at most 10"):
            codec.encode(value, 'k', max_size=10)
    assert codec.encode(Opaque(), 'k', True, max_size=10 ** 6)
    with pytest.raises(ValueError, match='holds at most'):
        codec.encode(Opaque(), 'k', True, max_size=10)
    for value in ('x' * 10, 'é' * 5, b'x' * 9, 1.5, 2 ** 62, None):
        assert codec.decode(codec.encode(value, 'k', max_size=10)) == value


def test_scalars_no_sql_value_holds_are_refused_with_advice_that_works():
    # Each message says what to log instead; float() fails on a complex
    # or a date, so each says what works for it.
    numpy = pytest.importorskip('numpy')
    for value, advice, instead in [
            (numpy.longdouble(1.5), 'float()', float),
            (numpy.complex64(1j), '.real and .imag', lambda value: [
                value.real, value.imag]),
            (numpy.datetime64('2020-01-02'), 'astype("int64")',
             lambda value: value.astype('int64')),
            (numpy.timedelta64(5, 's'), 'str(value)', str)]:
        with pytest.raises(TypeError, match="for key 'x'") as refused:
            codec.encode(value, 'x')
        assert advice in str(refused.value)
        assert codec.encode(instead(value), 'x') is not None
    assert codec.decode(codec.encode(numpy.str_('s'))) == 's'


def test_numpy_scalars_encode_the_same_at_every_value():
    # After the first value of a numpy scalar type, the next go straight to
    # their .item(): stored as the first was, read back as it was.
    numpy = pytest.importorskip('numpy')
    codec._PLAIN_SCALARS.clear()
    values = [numpy.float32(0.5), numpy.float32('nan'), numpy.float64(1.5),
              numpy.int64(-2 ** 62), numpy.uint64(2 ** 64 - 1),
              numpy.bool_(True), numpy.str_('\u00e9'), numpy.bytes_(b'x'),
              numpy.float16(0.1), numpy.float32('-inf')]
    first = [codec.encode(value, 'x') for value in values]
    assert codec._PLAIN_SCALARS  # the cache is in use
    again = [codec.encode(value, 'x') for value in values]
    assert repr(again) == repr(first)  # NaN's JSON too
    for value, stored in zip(values, again):
        read = codec.decode(stored)
        assert type(read) in (bool, int, float, str, bytes)
        assert read == value.item() or read != read and value != value
    for value in (numpy.ma.masked, numpy.longdouble(1)):
        for _ in range(2):  # never taken for a plain scalar's type
            with pytest.raises(TypeError):
                codec.encode(value, 'x')


def test_a_masked_value_is_refused_not_stored_as_what_its_mask_hides():
    # numpy.ma.masked (an element of a masked array that is masked, the
    # mean of nothing) .item()s to the 0.0 under its mask: it would read
    # back as a number logged.
    numpy = pytest.importorskip('numpy')
    masked = numpy.ma.array([5.0, 1.0], mask=[True, False])
    for value in (numpy.ma.masked, masked[0], [1.0, masked[0]],
                  {'best': numpy.ma.masked}):
        with pytest.raises(TypeError, match="masked value for key 'x'"):
            codec.encode(value, 'x')
    assert codec.encode(masked[1], 'x') == 1.0  # not masked: its number
    assert codec.encode(numpy.ma.array(3.0), 'x') == 3.0
    kept = codec.decode(codec.encode(numpy.ma.masked, 'x',
                                     allow_pickle=True), allow_pickle=True)
    assert kept is numpy.ma.masked


def test_pickles_that_name_the_placeholders_in_codec_load():
    # The placeholders were defined in codec: a pickle made then (of a
    # TrainingLog holding what a damaged database read as) names them
    # there.
    import pickle
    for value in (placeholders.Pickled(b'x'),
                  placeholders.Undecodable(b'y', 'why'),
                  placeholders.DamagedChunk(1, 2, 3, 'why'),
                  placeholders.DamagedBatch(4, 'why')):
        made = pickle.dumps(value, protocol=2).replace(
            b'blocks_log.placeholders\n', b'blocks_log.codec\n')
        assert b'blocks_log.codec\n' in made
        again = pickle.loads(made)
        assert type(again) is type(value) and again == value


def test_deleted_values_are_their_own_tag():
    assert codec.decode(codec.DELETED_STORED) is codec.DELETED
    assert codec.encode(b'X') != codec.DELETED_STORED
    # Logged bytes read as those bytes, never as a deletion (one-byte
    # bytes objects are shared by CPython: b'X' was taken for one).
    for value in (b'X', b'', b'B', b'J'):
        assert codec.decode(codec.encode(value)) == value
        assert codec.decode(codec.encode(value)) is not codec.DELETED


# Batches (blocks_log.stores.batches): what a commit writes into one block
# of the head, in one BLOB. Values as the codec stores them.
STORED = st.one_of(
    st.floats(), st.floats(), st.integers(-2 ** 63, 2 ** 63 - 1),
    st.none(), st.text(), st.binary(min_size=1))
BATCH = st.integers(1, 20).flatmap(lambda count: st.tuples(
    st.lists(st.integers(0, 2 ** 40), min_size=count, max_size=count),
    st.lists(st.integers(1, 2 ** 31 - 1), min_size=count, max_size=count),
    st.lists(STORED, min_size=count, max_size=count)))


_HEAD_ROW = st.tuples(
    st.lists(st.tuples(st.integers(0, 6), st.integers(1, 3), st.one_of(
        STORED, st.just(codec.DELETED_STORED))), min_size=1, max_size=4),
    st.integers(0, 5), st.booleans())


@settings(max_examples=300, deadline=None)
@given(st.lists(_HEAD_ROW, max_size=8), st.integers(0, 4), st.integers(2, 7),
       st.data())
def test_head_marks_are_what_reading_the_head_whole_tells(
        rows, start, stop, data):
    # Rows of a head (batches of a part each, some parts alike, or a value
    # each), told to HeadMarks a few at a time, in the order read, and
    # some again (a statement tried again, from its first): whether each
    # (time, key) of [start, stop) holds the deleted value, the later
    # winning, is what the entries of the head read whole tell.
    from blocks_log.stores import batches
    head = []
    for entries, part, batched in rows:
        times, key_ids, values = (list(column) for column in zip(*entries))
        if batched:
            head.append((min(times), batches.key_of(part, len(set(
                times)) > 1), batches.encode(times, key_ids, values)[1]))
        else:
            head.append((times[0], key_ids[0], values[0]))
    marks = batches.HeadMarks(start, stop)
    again = data.draw(st.integers(0, len(head)))
    size = data.draw(st.integers(1, 3))
    for rows in (head[:again], head):
        for at in range(0, len(rows), size):
            marks.add(rows[at:at + size])
    assert marks.found == dict(
        ((time, key), (order, stored == codec.DELETED_STORED))
        for time, key, stored, order in batches.head(head, None, start,
                                                     False)
        if start <= time < stop)


@settings(max_examples=300, deadline=None)
@given(BATCH, st.booleans())
def test_a_batch_round_trip(batch, one_time):
    from blocks_log.stores import batches
    times, key_ids, values = batch
    if one_time:
        times = [times[0]] * len(times)
    spread, blob = batches.encode(times, key_ids, values)
    assert spread == (len(set(times)) > 1)
    got = batches.decode(times[0], blob)
    assert got[0] == times and got[1] == key_ids
    assert len(got[2]) == len(values) and all(map(same, got[2], values))
    # Read for its times and keys: a batch of numbers only leaves its
    # values unread; one that may hold a deleted value reads them.
    numbers = all(type(value) in (int, float) for value in values)
    unread = batches.decode(times[0], blob, values=False)
    assert unread[:2] == got[:2]
    assert unread[2] is None if numbers else all(map(same, unread[2], values))
    if one_time:
        wall = 1.5e9 if key_ids[0] % 2 else None
        kind = batches.AtOneTime(tuple(key_ids))
        blob = kind.encode(tuple(values), wall)
        again = batches.decode(times[0], blob)
        assert again[:2] == got[:2] and all(map(same, again[2], values))
        assert batches.wall_of(blob) == wall
        if wall is not None and batches.all_floats(values):
            assert kind.stamped_floats(tuple(values), wall) == blob


@settings(max_examples=500, deadline=None)
@given(BATCH, st.data())
def test_a_damaged_batch_is_refused_never_misread(batch, data):
    # Cut, lengthened, a byte changed or garbage: a BatchError, or lists
    # of one length (a damage a BLOB without a checksum cannot tell), never
    # another error; stamped with a wall clock or not (what follows the
    # stamp is read where it stands).
    from blocks_log.stores import batches
    times, key_ids, values = batch
    stamp = data.draw(st.sampled_from([b'', batches.stamp(1.5e9)]))
    _, blob = batches.encode(times, key_ids, values, stamp)
    damage = data.draw(st.sampled_from(['cut', 'longer', 'flip', 'garbage']))
    if damage == 'cut':
        blob = blob[:data.draw(st.integers(0, len(blob) - 1))]
    elif damage == 'longer':
        blob += data.draw(st.binary(min_size=1, max_size=16))
    elif damage == 'flip':
        index = data.draw(st.integers(0, len(blob) - 1))
        blob = blob[:index] + bytes([blob[index] ^ data.draw(
            st.integers(1, 255))]) + blob[index + 1:]
    else:
        blob = data.draw(st.binary(max_size=64))
    try:
        found = batches.decode(times[0], blob)
    except batches.BatchError:
        return
    assert len(found[0]) == len(found[1]) == len(found[2])


# Names and values of the records flat_json writes (a claim, a summary),
# and of every other kind, which it gives to json.
_FLAT_VALUES = st.one_of(
    st.none(), st.integers(), st.text(), st.booleans(), st.floats(),
    st.lists(st.one_of(st.none(), st.integers(), st.text(), st.floats(),
                       st.lists(st.integers(), max_size=2)), max_size=4),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.builds(object))
_NAMES = st.one_of(st.text(max_size=6), st.sampled_from(
    ['host', 'pid', 'boot', 'start', 'handle', 'keys', 'a"b', 'a\\b',
     'tab\t', 'del\x7f', '\xe9t\xe9', '']))


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.dictionaries(_NAMES, _FLAT_VALUES, max_size=6),
                 st.dictionaries(st.integers(), _FLAT_VALUES, max_size=2)))
def test_flat_json_writes_what_json_writes(record):
    assert flat_json.dumps(record) == json.dumps(record, sort_keys=True,
                                                 default=repr)


def test_flat_json_refuses_what_json_refuses():
    with pytest.raises(TypeError):
        flat_json.dumps({('a', 'tuple'): 1})
