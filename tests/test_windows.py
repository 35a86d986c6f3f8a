"""Reading a long range a window of times at a time
(:func:`blocks_log.series.windows`), against a plain dict: every value once,
in order, whatever the gaps, and a probe that is sure or not."""
from hypothesis import given, settings
from hypothesis import strategies as st

from blocks_log import series

#: Values: time -> {key: value}; times sparse, with gaps of any length.
TIMES = st.one_of(st.integers(0, 300), st.integers(0, 10 ** 15))
VALUES = st.dictionaries(TIMES, st.dictionaries(
    st.sampled_from(['a', 'b', 'c']), st.integers(), min_size=1),
    max_size=60)


def reader(values, keys):
    """``read(low, high)`` of `values`, as a store reads a range: key ->
    (times, values) of `keys`; and how many reads it made."""
    reads = []

    def read(low, high):
        reads.append((low, high))
        columns = {}
        for time in sorted(values):
            if low <= time < high:
                for key, value in values[time].items():
                    if key in keys:
                        column = columns.setdefault(key, ([], []))
                        column[0].append(time)
                        column[1].append(value)
        return columns
    return read, reads


@settings(max_examples=300, deadline=None)
@given(VALUES, st.sets(st.sampled_from(['a', 'b', 'c']), min_size=1),
       st.integers(0, 10 ** 15), st.integers(1, 10), st.integers(1, 100),
       st.integers(0, 1000))
def test_windows_read_every_value_once(values, keys, start, wanted, span,
                                       slack):
    # `slack`: a probe unsure near values (a chunk that spans them), and
    # blind to which keys are read, says a range holds one where it may
    # not.
    end = max(list(values) + [start]) + 1

    def holds(low, high):
        return any(low - slack <= time < high + slack for time in values)
    read, reads = reader(values, keys)
    found = {}
    last = start
    for stop, columns in series.windows(read, holds, start, end, wanted,
                                        span):
        assert stop > last and any(len(times) for times, _ in
                                   columns.values())
        for key, (times, column) in columns.items():
            assert all(last <= time < stop for time in times)
            for time, value in zip(times, column):
                assert (time, key) not in found
                found[time, key] = value
        last = stop
    assert found == dict(((time, key), value) for time, row in values.items()
                         if start <= time for key, value in row.items()
                         if key in keys)
    # A gap of any length is crossed in a few reads, not one per window of
    # `span` times, nor one per power of eight of its length: a few a time
    # that holds a value, and as many more as widening past the probe's
    # doubt takes.
    assert len(reads) <= (len(values) + 1) * (4 + slack.bit_length() // 3)
    assert all(high <= end for _, high in reads)
