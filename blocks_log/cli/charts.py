"""``blocks-log plot`` and ``blocks-log watch``: curves, and a run followed
while it trains."""
import os
import shutil
import sys
import time as _time

from blocks_log.cli import common, termplot
from blocks_log.sources import is_postgresql
from blocks_log.tables import cell, printable, row_windows


def _curves(args, source):
    # {label: (times, values)} of every run and key, the epochs of a run
    # alone, and the runs' uuids.
    keys = common.keys_of(args)
    uuids = [source.find(run) for run in args.runs] or source.uuids()
    source.check_keys(keys, uuids)
    curves, epochs = {}, []
    for uuid in uuids:
        _, columns = source.read(uuid, keys)
        for key in keys:
            label = key if len(uuids) == 1 else '{} {}'.format(uuid[:8], key)
            # The series as read: a list of (time, value) pairs of a
            # million values took 230 MB; a store's column of numbers, 8.
            curves[label] = columns.get(key, ((), ()))
        epochs = list(source.open(uuid).status.get('_epoch_ends') or [])
    return curves, (epochs if len(uuids) == 1 else []), uuids


def cmd_plot(args, out):
    path = common.output_path(args.output, '.png', [args.source]) if (
        args.output) else None
    if path is None:
        with common.open_source(args) as source:
            curves, _, _ = _curves(args, source)
        _check_drawable(curves)
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
    try:
        # PNG, into a stream (see common.is_stream) named without one.
        suffix = os.path.splitext(path)[1][1:].lower() or 'png'
        if suffix not in figure.canvas.get_supported_filetypes():
            raise common.UsageError(
                '{}: matplotlib writes no .{} images (it writes {})'.format(
                    path, suffix, ', '.join(sorted(
                        figure.canvas.get_supported_filetypes()))))
        with common.open_source(args) as source:
            curves, epochs, uuids = _curves(args, source)
        _check_drawable(curves)
        _draw(axes, curves, epochs, uuids, args)
        figure.tight_layout()
        with common.written(path, 'wb') as target:
            figure.savefig(target, format=suffix)
    finally:
        pyplot.close(figure)
    common.say_written(path, out)


def _check_drawable(curves):
    # No chart, rather than an empty one, of keys that hold no numbers.
    nothing = termplot.nothing_to_draw(curves)
    if nothing is not None:
        raise common.UsageError(nothing)


def _draw(axes, curves, epochs, uuids, args):
    for label, (times, values) in curves.items():
        _, _, left_out = termplot.drawable(times, values)
        # What is left out is a gap, as on the web page: a line across a
        # NaN would hide it.
        axes.plot(times, termplot.gapped(values),
                  label=termplot.legend(label, left_out))
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


def cmd_watch(args, out):
    keys = common.keys_of(args)
    if args.new and args.run:
        raise common.UsageError('--new follows the next run to start; name '
                                'no RUN with it')
    name = _new_run(args) if args.new else args.run
    seen, printed, first = set(), -1, True
    while True:
        with common.open_source(args) as source:
            log = source.open(name)
            if first and not log.being_written and _went_on_in(
                    args, source, log.h_uuid) is None:
                # Done already: a key it does not hold will never come.
                source.check_keys(keys, [log.h_uuid])
            printed = _follow(log, keys, args.interval, out, seen, printed)
            following = _went_on_in(args, source, log.h_uuid)
            if following is None:
                # Keys may be logged late in a run; once it is done, one
                # that never came is an error, as everywhere.
                missing = [key for key in keys or () if key not in seen]
                if missing:
                    source.check_keys(missing, [log.h_uuid])
                return
            print('run {} went on in run {}'.format(
                log.h_uuid[:8], following[:8]), file=sys.stderr)
        name, first = following, False


def _went_on_in(args, source, uuid):
    # The run that the training of `uuid` went on in once its writer let it
    # go: the last begun from it (a checkpoint, a pickle or resume() begin
    # a run before they let theirs go), listed anew; None if none, or if
    # `source` is a pickle.
    if not source.is_database:
        return None
    with common.open_source(args) as listed:
        children = [run.uuid for run in listed.runs() if run.parent == uuid]
    return children[-1] if children else None


def _new_run(args):
    # The first run that starts after the command did, waited for (in a
    # database file that training may not have made yet).
    known = set(_uuids(args))
    print('waiting for a new run in {} (Ctrl-C to stop)'.format(
        common.redact(args.source)), file=sys.stderr)
    while True:
        _time.sleep(args.interval)
        new = [uuid for uuid in _uuids(args) if uuid not in known]
        if new:
            return new[0]


def _uuids(args):
    if not os.path.exists(args.source) and not is_postgresql(args.source):
        return []
    with common.open_source(args) as source:
        return source.uuids()


def _follow(log, keys, interval, out, seen, printed=-1):
    # Print each completed iteration of `log` past `printed` until its
    # writer is done, adding the keys printed to `seen`; return the last
    # time printed.
    while True:
        # The status first: the rows before iterations_done are whole by
        # then. A run nobody writes is whole up to its last row.
        done = log.status.get('iterations_done', 0)
        writing = log.being_written
        # Read a window of times at a time: a run of 1,000,000 iterations
        # of 10 values, done when watched, took 840 MB read whole.
        for rows in row_windows(log, keys, printed + 1,
                                done if writing else None):
            for time, values in rows:
                seen.update(values)
                printed = max(printed, time)
                print(printable('{}  {}'.format(time, '  '.join(
                    '{}={}'.format(key, cell(value))
                    for key, value in values.items()))), file=out)
            out.flush()
        if not writing:
            return printed
        printed = max(printed, done - 1)
        _time.sleep(interval)


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
                     'completed iteration, past its checkpoints, until '
                     'it ends or Ctrl-C',
                     'blocks-log watch demo.sqlite 3fa8 --keys train_loss')
    common.add_source(parser)
    common.add_keys(parser)
    parser.add_argument('--new', action='store_true',
                        help='wait for the next run to start in SOURCE (start '
                             'watching before the training), and follow it')
    parser.add_argument('--interval', type=common.seconds, default=0.5,
                        metavar='SECONDS',
                        help='seconds between looks (default: %(default)s)')
    parser.set_defaults(run_command=cmd_watch)
