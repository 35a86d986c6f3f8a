"""Charts drawn with characters, for a terminal; no dependency. What any
chart of the command line draws of a curve, and says it left out."""
import array
from numbers import Integral

from blocks_log.numeric import all_finite, finite, is_number
from blocks_log.tables import printable

MARKERS = '*+ox#@%&'
_NAN = float('nan')
# Values labelled on the vertical axis.
TICKS = 5


def drawable(times, values):
    """What a chart draws of a series, and what it says of the rest.

    Parameters
    ----------
    times, values : sequence
        A series, as a log reads it (see :mod:`blocks_log.series`).

    Returns
    -------
    times, numbers : sequence
        The times and values (as floats) of the values that are finite
        real numbers: the series itself where all are (as a store reads a
        column of numbers, at no cost in memory).
    left_out : str
        ``''``, or what was left out: ``2 NaN or inf, 1 too large for a
        float, 3 not numbers``.

    """
    if all_finite(values):
        return times, _floats(values), ''
    kept_times, numbers = [], array.array('d')
    infinite = large = other = 0
    for time, value in zip(times, values):
        number = finite(value)
        if number is not None:
            kept_times.append(time)
            numbers.append(number)
        elif not is_number(value):
            other += 1
        elif isinstance(value, Integral):  # such as 10 ** 400
            large += 1
        else:
            infinite += 1
    left = ['{} NaN or inf'.format(infinite)] if infinite else []
    if large:
        left.append('{} too large for a float'.format(large))
    if other:
        left.append('{} not number{}'.format(other, 's' * (other > 1)))
    return kept_times, numbers, ', '.join(left)


def _floats(numbers):
    # Finite `numbers` as floats (the series itself if they are).
    if type(numbers) is array.array and numbers.typecode == 'd':
        return numbers
    return array.array('d', map(float, numbers))


def gapped(values):
    """The numbers of a chart's line through `values`: each as a float
    where it is a finite real number, else NaN (a gap: a line across a
    NaN would hide it)."""
    if all_finite(values):
        return values
    return array.array('d', [_NAN if number is None else number
                             for number in map(finite, values)])


def legend(name, left_out):
    """The legend of curve `name`, saying what :func:`drawable` left out;
    printable (see :func:`blocks_log.tables.printable`)."""
    return printable(name) + (left_out and ' ({}: not drawn)'.format(
        left_out))


def nothing_to_draw(series):
    """What to say if no curve of `series` (name -> ``(times, values)``)
    has a point to draw; ``None`` if one has."""
    said = []
    for name, (times, values) in series.items():
        kept, _, left_out = drawable(times, values)
        if len(kept):
            return None
        said.append('{} ({})'.format(name, left_out or 'no values'))
    return 'nothing to plot: no finite number in {}'.format(', '.join(said))


def chart(series, width=72, height=16):
    """Draw line charts of several series on one pair of axes.

    Parameters
    ----------
    series : dict
        name -> ``(times, values)`` (a series, times increasing), one
        curve at least with a point to draw (see :func:`nothing_to_draw`).
        Values that are not finite numbers are left out (and counted in
        the legend).
    width, height : int
        The size of the plotting area in characters.

    Returns
    -------
    str
        The chart, its axes and a legend, as lines of text.

    """
    drawn = dict((name, drawable(times, values))
                 for name, (times, values) in series.items())
    points = dict((name, (times, numbers)) for name, (times, numbers, _) in
                  drawn.items())
    drawing = [(times, numbers) for times, numbers in points.values()
               if len(times)]
    low_t = min(times[0] for times, _ in drawing)
    high_t = max(times[-1] for times, _ in drawing)
    low_v = min(min(numbers) for _, numbers in drawing)
    high_v = max(max(numbers) for _, numbers in drawing)
    span_t = float(high_t - low_t) or 1.0
    span_v = float(high_v - low_v) or 1.0
    grid = [[' '] * width for _ in range(height)]
    for marker, (name, (times, numbers)) in zip(MARKERS * 8,
                                                points.items()):
        for t, v in zip(times, numbers):
            column = int(round((t - low_t) / span_t * (width - 1)))
            row = int(round((high_v - v) / span_v * (height - 1)))
            grid[row][column] = marker
    # A label every few rows, each the value of its row.
    labelled = set(int(round(index * (height - 1) / float(TICKS - 1)))
                   for index in range(TICKS))
    labels = dict((row, '{:.4g}'.format(high_v - row * span_v / (
        height - 1))) for row in labelled)
    margin = max(len(label) for label in labels.values())
    lines = []
    for index, row in enumerate(grid):
        lines.append('{:>{}} |{}'.format(labels.get(index, ''), margin,
                                         ''.join(row)))
    lines.append(' ' * margin + ' +' + '-' * width)
    left, right = str(low_t), str(high_t)
    lines.append(' ' * (margin + 2) + left +
                 right.rjust(width - len(left)) + '  (time)')
    for marker, name in zip(MARKERS * 8, points):
        lines.append('  {} {}'.format(marker, legend(name, drawn[name][2])))
    return '\n'.join(lines)
