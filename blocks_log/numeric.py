"""Which values are numbers, which of them are finite, and which ints a
float holds exactly: what reads, charts and data frames ask of a value.

"""
import array
import math
from numbers import Integral, Real

#: A float64 holds every int of at most this magnitude exactly, and only
#: some past it: its significand has 53 bits.
EXACT_INTS = 2 ** 53


def rounded_by_float(value):
    """Whether `value` is an int (numpy's too, not a bool) that no float
    equals."""
    if not isinstance(value, Integral) or isinstance(value, bool):
        return False
    try:
        return int(float(value)) != int(value)
    except OverflowError:  # past any float: pandas keeps it an object
        return True


def is_number(value):
    """Whether `value` is a real number (numpy's too), not a bool."""
    return isinstance(value, Real) and not isinstance(value, bool) and (
        not hasattr(value, 'dtype') or value.dtype.kind in 'iuf')


def orders(value):
    """Whether `value` is a number that has a place among others: a real
    number (numpy's too, not a bool), inf included, NaN not. What a
    smallest and a largest value are taken of."""
    return is_number(value) and value == value


def all_finite(values):
    """Whether `values` are all finite floats and ints (as a store reads a
    column of numbers), checked in C: a chart then needs no check of each
    (bools and numpy's numbers are checked one by one elsewhere). An int
    past a float's range (``10 ** 400``) is not finite here: a chart
    cannot draw it (see :func:`finite`)."""
    if type(values) is array.array:
        return values.typecode == 'q' or (values.typecode == 'd' and all(
            map(math.isfinite, values)))
    try:
        return _PLAIN.issuperset(map(type, values)) and all(
            map(math.isfinite, values))
    except OverflowError:
        return False


_PLAIN = frozenset([float, int])


def finite(value):
    """`value` as a float if it is a finite real number (numpy's too, not a
    bool), else ``None``: what a chart can draw (NaN, inf, an int past a
    float's range and what is no number are gaps). The one check of a
    finite number of the charts, the command line's and the page's."""
    if not is_number(value):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int, such as 10 ** 400
        return None
    return number if math.isfinite(number) else None
