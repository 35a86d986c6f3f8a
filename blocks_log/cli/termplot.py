"""Charts drawn with characters, for a terminal; no dependency. What any
chart of the command line draws of a curve, and says it left out."""
from blocks_log.analysis import finite, is_number

MARKERS = '*+ox#@%&'
# Values labelled on the vertical axis.
TICKS = 5


def drawable(values):
    """What a chart draws of a curve, and what it says of the rest.

    Parameters
    ----------
    values : list
        ``(time, value)`` pairs.

    Returns
    -------
    points : list
        ``(time, float)`` of the values that are finite real numbers.
    left_out : str
        ``''``, or what was left out: ``2 NaN or inf, 3 not numbers``.

    """
    points, infinite, other = [], 0, 0
    for time, value in values:
        number = finite(value)
        if number is not None:
            points.append((time, number))
        elif is_number(value):
            infinite += 1
        else:
            other += 1
    left = ['{} NaN or inf'.format(infinite)] if infinite else []
    if other:
        left.append('{} not number{}'.format(other, 's' * (other > 1)))
    return points, ', '.join(left)


def legend(name, left_out):
    """The legend of curve `name`, saying what :func:`drawable` left out."""
    return name + (left_out and ' ({}: not drawn)'.format(left_out))


def nothing_to_draw(series):
    """What to say if no curve of `series` (name -> ``(time, value)``
    pairs) has a point to draw; ``None`` if one has."""
    said = []
    for name, values in series.items():
        points, left_out = drawable(values)
        if points:
            return None
        said.append('{} ({})'.format(name, left_out or 'no values'))
    return 'nothing to plot: no finite number in {}'.format(', '.join(said))


def chart(series, width=72, height=16):
    """Draw line charts of several series on one pair of axes.

    Parameters
    ----------
    series : dict
        name -> list of ``(time, value)``, one curve at least with a point
        to draw (see :func:`nothing_to_draw`). Values that are not finite
        numbers are left out (and counted in the legend).
    width, height : int
        The size of the plotting area in characters.

    Returns
    -------
    str
        The chart, its axes and a legend, as lines of text.

    """
    drawn = dict((name, drawable(values)) for name, values in series.items())
    points = dict((name, kept) for name, (kept, _) in drawn.items())
    everything = [point for values in points.values() for point in values]
    low_t = min(t for t, _ in everything)
    high_t = max(t for t, _ in everything)
    low_v = min(v for _, v in everything)
    high_v = max(v for _, v in everything)
    span_t = float(high_t - low_t) or 1.0
    span_v = float(high_v - low_v) or 1.0
    grid = [[' '] * width for _ in range(height)]
    for marker, (name, values) in zip(MARKERS * 8, points.items()):
        for t, v in values:
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
        lines.append('  {} {}'.format(marker, legend(name, drawn[name][1])))
    return '\n'.join(lines)
