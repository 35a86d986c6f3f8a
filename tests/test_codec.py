"""Round trips of the value codec (SPEC section 5)."""
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blocks_log import codec

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
    assert isinstance(placeholder, codec.Pickled)
    assert 'allow_pickle' in repr(placeholder)


def test_unknown_tag():
    with pytest.raises(ValueError, match='unknown tag'):
        codec.decode(b'Zjunk')
