"""Charts drawn with characters, for a terminal; no dependency."""
from blocks_log.analysis import finite

MARKERS = '*+ox#@%&'
# Values labelled on the vertical axis.
TICKS = 5


def chart(series, width=72, height=16):
    """Draw line charts of several series on one pair of axes.

    Parameters
    ----------
    series : dict
        name -> list of ``(time, value)``. Values that are not finite
        numbers are left out (and counted in the legend).
    width, height : int
        The size of the plotting area in characters.

    Returns
    -------
    str
        The chart, its axes and a legend, as lines of text.

    """
    points = dict((name, [(t, finite(v)) for t, v in values
                          if finite(v) is not None])
                  for name, values in series.items())
    everything = [point for values in points.values() for point in values]
    if not everything:
        return '(nothing to plot: no finite numeric values)'
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
        dropped = len(series[name]) - len(points[name])
        lines.append('  {} {}{}'.format(
            marker, name, '' if not dropped else
            ' ({} non-finite values not drawn)'.format(dropped)))
    return '\n'.join(lines)
