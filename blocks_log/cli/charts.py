"""``blocks-log plot`` and ``blocks-log watch``: curves, and a run followed
while it trains."""
import os
import shutil
import time as _time

from blocks_log.analysis import is_number, series_records
from blocks_log.cli import common, termplot


def _curves(args):
    # {label: [(time, value)]} of every run and key, and the logs' epochs.
    keys = common.keys_of(args)
    logs = [common.open_log(args.source, run, args.trust_pickle)
            for run in (args.runs or common.every_run(args.source))]
    curves, epochs, known = {}, [], set()
    try:
        for log in logs:
            columns = common.read_series(log)
            known.update(columns)
            for key in keys:
                times, values = columns.get(key, ((), ()))
                label = key if len(logs) == 1 else '{} {}'.format(
                    log.h_uuid[:8], key)
                curves[label] = list(zip(times, values))
            epochs = list(log.status.get('_epoch_ends') or [])
    finally:
        for log in logs:
            common.close(log)
    common.check_keys(known, keys)
    return curves, (epochs if len(logs) == 1 else []), [
        log.h_uuid for log in logs]


def cmd_plot(args, out):
    path = common.output_path(args.output, '.png') if args.output else None
    if path is None:
        curves, _, _ = _curves(args)
        width = shutil.get_terminal_size((80, 24)).columns
        print(termplot.chart(curves, width=max(20, width - 14)), file=out)
        return
    try:
        import matplotlib
        matplotlib.use('Agg')
        from matplotlib import pyplot
    except ImportError:
        raise common.UsageError("a PNG needs matplotlib: pip install "
                                "'blocks-log[plot]' (or leave out -o for a "
                                "chart in the terminal)")
    figure, axes = pyplot.subplots(figsize=(8, 4.5))
    suffix = os.path.splitext(path)[1][1:].lower()
    if suffix not in figure.canvas.get_supported_filetypes():
        pyplot.close(figure)
        raise common.UsageError('{}: matplotlib writes no .{} images (it '
                                'writes {})'.format(path, suffix, ', '.join(
                                    sorted(figure.canvas.
                                           get_supported_filetypes()))))
    curves, epochs, uuids = _curves(args)
    for label, points in curves.items():
        points = [(t, float(v)) for t, v in points if is_number(v)]
        axes.plot([t for t, _ in points], [v for _, v in points],
                  label=label)
    for end in epochs:
        axes.axvline(end, color='0.85', linewidth=0.8, zorder=0)
    keys = common.keys_of(args)
    axes.set_xlabel('time (iterations)' + (
        '; epochs ended at the grey lines' if epochs else ''))
    axes.set_ylabel(', '.join(keys) if len(keys) <= 3 else 'value')
    axes.set_title('{}: run{} {}'.format(
        os.path.basename(common.redact(args.source)),
        's' if len(uuids) > 1 else '', ', '.join(u[:8] for u in uuids)))
    axes.legend()
    axes.grid(True, color='0.92')
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)
    print('wrote {}'.format(path), file=out)


def cmd_watch(args, out):
    log = common.open_log(args.source, args.run, args.trust_pickle)
    keys = common.keys_of(args)  # may not be logged yet
    printed = -1  # every time up to this one was printed
    try:
        while True:
            # The status first: the rows before iterations_done are whole
            # by then. A run nobody writes is whole up to its last row.
            done = log.status.get('iterations_done', 0)
            writing = getattr(log, 'being_written', False)
            rows = {}
            for time, key, value in series_records(common.read_series(
                    log, keys, printed + 1, done if writing else None)):
                if keys is None or key in keys:
                    rows.setdefault(time, {})[key] = value
            for time in sorted(rows):
                print('{}  {}'.format(time, '  '.join(
                    '{}={}'.format(key, common.cell(value))
                    for key, value in rows[time].items())), file=out)
            out.flush()
            if not writing:
                return
            printed = max([printed, done - 1] + list(rows))
            _time.sleep(args.interval)
    except KeyboardInterrupt:
        return
    finally:
        common.close(log)


def add_commands(command):
    """Declare the commands of this module with `command(name, help,
    example)`."""
    parser = command('plot', 'chart keys of one or more runs, in the '
                     'terminal or a PNG',
                     'blocks-log plot demo.sqlite 3fa8 7f02 --keys '
                     'train_loss valid_loss -o loss.png')
    common.add_source(parser, runs='*')
    common.add_keys(parser, required=True)
    parser.add_argument('-o', '--output', metavar='FILE.png',
                        help='an image (needs the plot extra: matplotlib; '
                             '.png added to a name without a suffix)')
    parser.set_defaults(run_command=cmd_plot)

    parser = command('watch', 'follow a run while it trains: print each '
                     'completed iteration, until it ends or Ctrl-C',
                     'blocks-log watch demo.sqlite 3fa8 --keys train_loss')
    common.add_source(parser)
    common.add_keys(parser)
    parser.add_argument('--interval', type=common.seconds, default=0.5,
                        metavar='SECONDS',
                        help='seconds between looks (default: %(default)s)')
    parser.set_defaults(run_command=cmd_watch)
