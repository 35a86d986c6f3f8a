"""The chunk codec: what a chunk packs reads back as it was, its times
whatever their spacing and its values whatever their types, and only
those asked for (issue 21: a chunk's times were once found evenly spaced
from their first, last and count alone)."""
import math

from hypothesis import example, given, settings
from hypothesis import strategies as st

from blocks_log.stores import chunks

RUN, KEY = 7, 3
INT64 = st.integers(-2 ** 63, 2 ** 63 - 1)
FLOATS = st.floats(allow_nan=True, allow_infinity=True)
#: How a row holds NaN: a float, or the tagged BLOB of rows of before.
NANS = st.sampled_from([float('nan'), chunks.NAN])
VALUES = {'floats': st.one_of(FLOATS, NANS), 'ints': INT64,
          'mixed': st.one_of(FLOATS, NANS, INT64)}


@st.composite
def contents(draw):
    """``(span, times, values)`` of one key in one block."""
    span = draw(st.sampled_from([1, 4, 256, 1000]))
    block = draw(st.integers(0, 2 ** 40))
    offsets = sorted(draw(st.sets(st.integers(0, span - 1), min_size=1,
                                  max_size=64)))
    times = [block * span + offset for offset in offsets]
    values = draw(st.lists(VALUES[draw(st.sampled_from(sorted(VALUES)))],
                           min_size=len(times), max_size=len(times)))
    return span, times, values


def as_read(value):
    """What a read gives of `value` as a row holds it."""
    return float('nan') if value == chunks.NAN else value


def same(found, expected):
    """Equal, of the same type, NaN as NaN and -0.0 as -0.0."""
    if type(found) is not type(expected):
        return False
    if type(expected) is float:
        if math.isnan(expected):
            return math.isnan(found)
        return found == expected and (
            math.copysign(1, found) == math.copysign(1, expected))
    return found == expected


def row_of(packed):
    """The row a store reads back of what :func:`chunks.pack` gives."""
    run, block, key = packed[:3]
    return (key, block) + tuple(packed[3:])


@settings(max_examples=500, deadline=None)
@given(contents(), st.data())
# Irregular times whose last is where their first step would lead.
@example((256, [0, 2, 3, 6], [0.5, 1.5, 2.5, 3.5]), None)
@example((256, [10, 11, 13, 15, 16], [1, 2, 3, 4, 5]), None)
def test_a_chunk_reads_back_what_it_packed(content, data):
    span, times, values = content
    packed = chunks.pack(RUN, KEY, span, times, values)
    assert packed[1] == times[0] // span
    row = row_of(packed)
    found_times, found_values = chunks.read(RUN, span, row)
    assert list(found_times) == times
    assert list(chunks.read_times(RUN, span, row)) == times
    expected = [as_read(value) for value in values]
    assert len(found_values) == len(expected)
    assert all(map(same, found_values, expected)), (found_values, expected)
    # Told the times' form, or that its values are floats, it packs the
    # same chunk.
    assert chunks.pack(RUN, KEY, span, times, values,
                       times_stored=chunks.stored_times(times)) == packed
    if all(type(value) is float for value in values):
        assert chunks.pack(RUN, KEY, span, times, values, 'f') == packed
    if data is None:
        return
    # A window reads the times in it, and their values, alone.
    first = times[0] - times[0] % span
    start = data.draw(st.integers(first - 2, first + span + 2))
    stop = data.draw(st.integers(start, first + span + 2))
    window_times, window_values = chunks.read(RUN, span, row, start, stop)
    wanted = [(time, value) for time, value in zip(times, expected)
              if start <= time < stop]
    assert list(window_times) == [time for time, _ in wanted]
    assert all(map(same, window_values, [value for _, value in wanted]))


@given(st.lists(st.integers(1, 2 ** 20), min_size=1, max_size=64),
       st.integers(0, 2 ** 40))
def test_times_are_a_step_only_when_evenly_spaced(gaps, first):
    times = [first]
    for gap in gaps:
        times.append(times[-1] + gap)
    step, blob = chunks.stored_times(times)
    if len(set(gaps)) == 1:
        assert (step, blob) == (gaps[0], None)
    else:
        assert step is None and blob is not None
