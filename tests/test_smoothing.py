"""TensorBoard's smoothing (blocks_log.smoothing), against the formula as
TensorBoard's line chart writes it, value by value."""
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blocks_log import smoothing


def tensorboard(values, weight):
    """TensorBoard's classic smoothing, transcribed: NaN and inf (None
    here too) pass as they are, uncounted; a constant series as it is."""
    finite = [v for v in values if v is not None]
    if values and all(v == values[0] for v in values):
        return list(values)
    last, count, out = 0.0, 0, []
    for value in values:
        if value is None or not math.isfinite(value):
            out.append(value)
            continue
        last = last * weight + (1 - weight) * value
        count += 1
        debias = 1.0 if weight == 1 else 1 - math.pow(weight, count)
        out.append(last / debias)
    assert len(finite) <= len(out)
    return out


def same(a, b):
    if a is None or b is None:
        return a is b
    return (math.isnan(a) and math.isnan(b)) or a == b


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.floats(-1e6, 1e6), st.none(),
                          st.sampled_from([float('nan'), float('inf')]))),
       st.floats(0, 0.99))
def test_the_smoothing_of_tensorboard(values, weight):
    assert all(map(same, smoothing.ema(values, weight),
                   tensorboard(values, weight)))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=2), st.floats(0.01, 0.99),
       st.data())
def test_going_on_from_a_state_is_smoothing_it_all(values, weight, data):
    cut = data.draw(st.integers(0, len(values)))
    running = smoothing.EMA(weight)
    parts = running.smooth(values[:cut])
    going = smoothing.EMA(weight, running.last, running.count)
    parts += going.smooth(values[cut:])
    assert parts == smoothing.EMA(weight).smooth(values)


@pytest.mark.parametrize('weight', [-0.1, 1, 1.5, 'x', None, float('nan')])
def test_a_weight_out_of_range_is_refused(weight):
    with pytest.raises(ValueError, match='smoothing'):
        smoothing.ema([1.0, 2.0], weight)
