"""Smoothing of a series as TensorBoard smooths its scalars: a debiased
exponential moving average (a first-order low-pass filter), so that a
chart of blocks_log and one of TensorBoard of the same values at the same
weight draw the same curve.

For each finite value ``x``, in order: ``last = last * weight + (1 -
weight) * x``, counted, and the smoothed value is ``last / (1 - weight **
count)`` (the debiasing, which keeps the first values from leaning towards
0). A value that is not finite (NaN, inf, ``None``) is passed as it is
and not counted; a series whose values are all the same is not smoothed.

"""
import itertools
import math

__all__ = ['check_weight', 'ema', 'EMA']


def check_weight(weight):
    """`weight` as a float from 0 (no smoothing) to below 1.

    Raises
    ------
    ValueError
        If it is not a number in ``[0, 1)``.
    """
    try:
        weight = float(weight)
    except (TypeError, ValueError):
        raise ValueError('smoothing must be a number from 0 to below 1, '
                         'not {!r}'.format(weight))
    if not 0 <= weight < 1:
        raise ValueError('smoothing must be from 0 to below 1, not '
                         '{!r}'.format(weight))
    return weight


class EMA(object):
    """The running state of a smoothing, to go on with more values.

    Parameters
    ----------
    weight : float
        From 0 to below 1 (see :func:`check_weight`).

    Attributes
    ----------
    last : float
        The average before debiasing.
    count : int
        The finite values averaged.

    """
    __slots__ = ('weight', 'last', 'count')

    def __init__(self, weight, last=0.0, count=0):
        self.weight, self.last, self.count = weight, last, count

    def smooth(self, values):
        """The smoothed `values` (numbers or ``None``), going on from where
        the state stands; a list."""
        try:
            finite = all(map(math.isfinite, values))
        except TypeError:  # None among them
            finite = False
        if not finite:
            return self._smooth_each(values)
        # Finite numbers, as a run's column mostly is: the same sums in the
        # same order, by a C loop (a comparison of 200 runs spent 0.4 s of
        # its 1.0 in the loop below).
        weight, rest = self.weight, 1 - self.weight
        out = list(itertools.accumulate(
            values, lambda last, value: last * weight + rest * value,
            initial=self.last))
        del out[0]
        count = self.count
        if out:
            self.last, self.count = out[-1], count + len(out)
        if weight:
            # Debiased until 1 - weight ** count rounds to 1 (72 values at
            # 0.6), as below.
            for index, last in enumerate(out):
                debias = 1 - weight ** (count + index + 1)
                if debias == 1:
                    break
                out[index] = last / debias
        return out

    def _smooth_each(self, values):
        weight, rest = self.weight, 1 - self.weight
        last, count = self.last, self.count
        isfinite = math.isfinite
        out = []
        # Once 1 - weight ** count rounds to 1, it stays 1: no division.
        settled = not weight or 1 - weight ** (count + 1) == 1
        for value in values:
            if value is None or not isfinite(value):
                out.append(value)
                continue
            last = last * weight + rest * value
            count += 1
            if settled:
                out.append(last)
                continue
            debias = 1 - weight ** count
            settled = debias == 1
            out.append(last / debias)
        self.last, self.count = last, count
        return out


def ema(values, weight):
    """TensorBoard's smoothing of `values` (numbers, or ``None`` for a
    gap) at `weight`: a list of as many values.

    Raises
    ------
    ValueError
        If `weight` is not a number in ``[0, 1)``.
    """
    weight = check_weight(weight)
    values = list(values)
    if not values or all(value == values[0] for value in values):
        return values
    return EMA(weight).smooth(values)
