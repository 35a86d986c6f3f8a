"""The HTML of the pages: every text that comes from a log (keys, uuids,
paths) escaped. No script is inline: the page's one script is
``static/app.js`` (the Content-Security-Policy forbids any other), and what
it needs comes in ``data-`` attributes."""
import datetime
import html
import os

from blocks_log.tables import redact

#: The most steps a run is set in under its parent. A run a checkpoint
#: began sits under the one before it, and a lineage of a checkpoint every
#: epoch is hundreds deep: past this depth it keeps its place right under
#: its parent, and the marker's title names the parent.
MAX_INDENT = 8


def _page(title, source, body, app=None):
    data = ''
    if app:
        data = ' '.join('data-{}="{}"'.format(name, html.escape(value))
                        for name, value in sorted(app.items()))
    return '''<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/uPlot.min.css">
<link rel="stylesheet" href="/static/style.css">
</head>
<body>
<header><a class="home" href="/">blocks-log</a>
<span class="source" title="{source}">{source_name}</span></header>
<main id="{main}" {data}>
{body}
</main>
<script src="/static/uPlot.iife.min.js"></script>
<script src="/static/app.js"></script>
</body>
</html>
'''.format(title=html.escape(title), source=html.escape(redact(source)),
           source_name=html.escape(os.path.basename(redact(source).rstrip(
               '/')) or redact(source)), main='app' if app else 'page',
           data=data, body=body)


def runs_page(source, runs):
    """The runs, as a table with their lineage (a resumed run under its
    parent), each to open or to pick for a comparison."""
    lines = []
    for run in runs:
        uuid = html.escape(run['uuid'])
        indent = ''
        if run['depth']:
            indent = ('<span class="lineage" title="resumed from {}">{}'
                      '&#x2514;&nbsp;</span>').format(
                html.escape(run['parent'][:8]),
                '&nbsp;&nbsp;' * (min(run['depth'], MAX_INDENT) - 1))
        created = (datetime.datetime.fromtimestamp(run['created']).strftime(
            '%Y-%m-%d %H:%M') if run['created'] else '')
        lines.append(
            '<tr><td><input type="checkbox" class="pick" value="{uuid}" '
            'aria-label="compare {short}"></td><td class="run">{indent}'
            '<a href="/run/{uuid}">{short}</a></td><td>{created}</td>'
            '<td class="number">{iterations}</td><td class="number">{epochs}'
            '</td><td class="number">{rows}</td><td class="keys">{keys}</td>'
            '<td class="number last"></td><td class="number best"></td>'
            '<td>{writer}</td></tr>'.format(
                uuid=uuid, short=uuid[:8], indent=indent, created=created,
                iterations=_text(run['iterations']),
                epochs=_text(run['epochs']), rows=_text(run['rows']),
                keys=html.escape(', '.join(run['keys'])),
                writer=html.escape(run['writer'] or (
                    '' if run['written_by'] == 'blocks_log' else
                    'written by ' + run['written_by']))))
    keys = sorted(set(key for run in runs for key in run['keys']))
    options = ''.join('<option value="{0}">{0}</option>'.format(
        html.escape(key)) for key in keys)
    body = '''<h1>Runs</h1>
<p class="hint">A resumed run is shown under the run it continues. Pick
two or more to compare them.</p>
<div class="controls">
<label>filter <input id="filter" type="search" size="28"
placeholder="text, or /regular expression/"></label>
<label>a key's values <select id="summary-key"><option value="">none
</option>{options}</select></label>
<label>best is <select id="best"><option value="min">the lowest</option>
<option value="max">the highest</option></select></label>
<span id="filter-note" role="status"></span>
</div>
<div class="table"><table id="runs">
<thead><tr><th></th><th data-sort="run">run</th><th data-sort="created">
created</th><th data-sort="iterations">iterations</th><th data-sort="epochs">
epochs</th><th data-sort="rows">rows</th><th>keys</th><th data-sort="last">
last</th><th data-sort="best">best</th><th data-sort="writer">writer</th>
</tr></thead>
<tbody>
{lines}
</tbody></table></div>
<p><button id="compare" type="button" disabled>Compare the runs picked</button>
</p>'''.format(options=options, lines='\n'.join(lines) or
               '<tr><td colspan="10">No runs yet.</td></tr>')
    return _page('Runs', source, body)


def _text(value):
    return '' if value is None else html.escape(str(value))


#: Runs compared that a page lists, at most, before it folds the list.
COMPACT = 6


def chart_page(source, title, runs):
    """The page of one run, or of several compared (`runs`: their dicts,
    as :func:`blocks_log.web.data.run_list` gives them): what each run is,
    charts of the keys picked (filled by app.js), the rows, a CSV of what
    is shown."""
    about = '<ul class="about">\n{}\n</ul>'.format('\n'.join(
        '<li>{}</li>'.format(_about(run)) for run in runs))
    if len(runs) > COMPACT:  # the charts on the first screen, however many
        about = '<details class="runs"><summary>{} runs</summary>\n{}\n' \
            '</details>'.format(len(runs), about)
    body = '''<h1>{title}</h1>
{about}
<div id="keys" class="keys" aria-label="keys to chart"></div>
<div class="controls">
<label>smoothing <input id="smoothing" type="range" min="0" max="0.99"
step="0.01" value="0.6" aria-describedby="smoothing-value">
<output id="smoothing-value" for="smoothing">0.6</output></label>
<label>time axis <select id="axis">
<option value="step">step</option>
<option value="relative">relative</option>
<option value="wall">wall clock</option>
</select></label>
<label><input id="logx" type="checkbox"> log time</label>
<label><input id="logy" type="checkbox"> log values</label>
<label><input id="outliers" type="checkbox"> ignore outliers</label>
</div>
<div id="charts" class="charts"></div>
<p class="tools"><a id="csv" href="#" download>CSV of what is shown</a>
<span id="live" class="live"></span></p>
<h2>Rows</h2>
<div class="table"><table id="rows"><thead></thead><tbody></tbody></table>
</div>'''.format(title=html.escape(title), about=about)
    return _page(title, source, body, app={
        'runs': ','.join(run['uuid'] for run in runs)})


def _about(run):
    parts = ['<span class="swatch"></span><b>{}</b>'.format(
        html.escape(run['uuid'][:8]))]
    # Kept up to date by app.js from the fields of a series' answer.
    for field, answer in (('iterations', 'iterations'),
                          ('epochs', 'epochs_done')):
        if run[field] is not None:
            parts.append('<span data-run="{}" data-field="{}">{}</span> '
                         '{}'.format(html.escape(run['uuid']), answer,
                                     _text(run[field]), field))
    if run['parent']:
        parent = html.escape(run['parent'])
        parts.append('resumed from <a href="/run/{}">{}</a>'.format(
            parent, parent[:8]))
    if run['created']:
        parts.append('created ' + datetime.datetime.fromtimestamp(
            run['created']).strftime('%Y-%m-%d %H:%M'))
    if run['writer']:
        parts.append('written now by ' + html.escape(run['writer']))
    return ' &middot; '.join(parts)


def error_page(source, status, message):
    """A page that says what went wrong, and where to go."""
    body = '<h1>{}</h1>\n<p>{}</p>\n<p><a href="/">All runs</a></p>'.format(
        'Not found' if status == 404 else 'Bad request' if status == 400
        else 'Error', html.escape(message))
    return _page('{} {}'.format(status, 'Not found' if status == 404 else
                                'Error'), source, body)
