"""``blocks-log serve``: a live web page of the runs of a SOURCE.

The standard library's HTTP server (:mod:`.server`) answers pages
(:mod:`.pages`, HTML with every key and value escaped) and a small JSON API
(:mod:`.data`: runs, series downsampled to what a chart can show, rows,
CSV); the browser draws the charts with uPlot (MIT licence, shipped in
``static/`` with its licence; nothing is fetched from the internet) and
polls for the new iterations of a run being trained. Everything is read
read-only: the page never creates nor changes a file.

"""
