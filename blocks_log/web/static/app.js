// blocks-log serve: the runs page's comparison picker, and the charts of a
// run (or of runs compared), kept up to date while the run trains.
// Everything from a log is put in the page as text (textContent), never as
// HTML.
(function () {
  'use strict';

  // Okabe-Ito's colours, those below 3:1 against the page darkened (WCAG
  // 1.4.11), and a dash of its own for each of the first runs (colour is
  // never the only cue, 1.4.1): no two of the first 28 runs alike.
  var DARK = window.matchMedia &&
    window.matchMedia('(prefers-color-scheme: dark)').matches;
  var COLOURS = DARK ?
    ['#56B4E9', '#E69F00', '#009E73', '#F0E442', '#CC79A7', '#D55E00', '#FFFFFF'] :
    ['#0072B2', '#D55E00', '#007A59', '#000000', '#A6508A', '#A66A00', '#2B7BB0'];
  var DASHES = [[], [8, 4], [2, 3], [10, 3, 2, 3]];
  var MARKER_DASHES = ['solid', 'dashed', 'dotted', 'double'];
  var INK = DARK ? '#d9dde6' : '#1d2330';
  var GRID = DARK ? 'rgba(255,255,255,0.10)' : 'rgba(0,0,0,0.07)';
  var Y_AXIS = 60;         // the width of a chart's value axis
  var RIGHT_PAD = 24;      // room for the last label of the time axis
  var MAX_KEYS = 256;      // what the server lets a request name
  var EXACT_INTS = 9007199254740992;  // 2 ** 53: past it, not every int is a float
  var EPOCH_COLOUR = DARK ? 'rgba(255, 140, 150, 0.6)' : 'rgba(209, 73, 91, 0.55)';
  var POLL_MS = 500;       // new iterations appear within 2 s
  var RUNS_POLL_MS = 2000; // the runs page: new runs within a few s
  var SUMMARY_MS = 10000;  // and each run's values of a key, within 10 s
  var SMOOTHING = 0.6;     // TensorBoard's default
  // Ticks of the time axis: whole iterations only.
  var WHOLE = [];
  for (var power = 1; power <= 1e12; power *= 10) {
    WHOLE.push(power, 2 * power, 5 * power);
  }

  function fetchJSON(url) {
    return fetch(url).then(function (response) {
      if (!response.ok) {
        return response.text().then(function (text) { throw new Error(text); });
      }
      return response.json();
    });
  }

  // A list of keys as the server splits it: a comma within a key written
  // \, and a backslash \\ (keys are data: "loss,top5" is one key).
  function names(keys) {
    return keys.map(function (key) {
      return key.replace(/\\/g, '\\\\').replace(/,/g, '\\,');
    }).join(',');
  }

  // The keys of such a list (the page's own URL holds one).
  function splitNames(text) {
    var found = [], name = '';
    for (var index = 0; index < text.length; index += 1) {
      var char = text[index], next = text[index + 1];
      if (char === '\\' && (next === ',' || next === '\\')) {
        name += next;
        index += 1;
      } else if (char === ',') {
        found.push(name);
        name = '';
      } else {
        name += char;
      }
    }
    found.push(name);
    return found;
  }

  function query(parameters) {
    return Object.keys(parameters).filter(function (name) {
      return parameters[name] !== null && parameters[name] !== undefined &&
        parameters[name] !== '';
    }).map(function (name) {
      return encodeURIComponent(name) + '=' + encodeURIComponent(parameters[name]);
    }).join('&');
  }

  // The runs page: pick runs, compare them; filter them (text, or a
  // /regular expression/), sort them by a column, show each one's last and
  // best value of a key; the table follows the runs as they train and as
  // new ones start (the server's own rows, the runs picked kept picked);
  // the view in the URL.
  var picker = document.getElementById('compare');
  if (picker) {
    var asked = new URLSearchParams(window.location.search);
    var view = {filter: asked.get('filter') || '', key: asked.get('key') || '',
                best: asked.get('best') === 'max' ? 'max' : 'min',
                sort: asked.get('sort') || '', descending: asked.get('desc') === '1',
                summary: {}, summarized: 0};
    window.blocksLogRuns = view;  // for the tests
    var boxes = function () {
      return Array.prototype.slice.call(document.querySelectorAll('.pick'));
    };
    var picked = function () {
      return boxes().filter(function (box) { return box.checked; })
        .map(function (box) { return box.value; });
    };
    var update = function () { picker.disabled = picked().length < 2; };
    var filterBox = document.getElementById('filter');
    var keyBox = document.getElementById('summary-key');
    var bestBox = document.getElementById('best');
    var note = document.getElementById('filter-note');
    filterBox.value = view.filter;
    keyBox.value = view.key;
    if (keyBox.value !== view.key) { view.key = ''; }  // not a key here
    bestBox.value = view.best;

    var rememberRuns = function () {
      var parameters = new URLSearchParams();
      [['filter', view.filter], ['key', view.key],
       ['best', view.best === 'max' ? 'max' : ''], ['sort', view.sort],
       ['desc', view.descending ? '1' : '']].forEach(function (pair) {
        if (pair[1]) { parameters.set(pair[0], pair[1]); }
      });
      var text = parameters.toString();
      window.history.replaceState(null, '', window.location.pathname +
                                  (text ? '?' + text : ''));
    };

    var matcher = function () {
      // A /regular expression/, or text to find (either case); null and a
      // note where the expression does not compile.
      var text = view.filter;
      note.textContent = '';
      if (text.length > 1 && text[0] === '/' && text[text.length - 1] === '/') {
        try {
          var expression = new RegExp(text.slice(1, -1), 'i');
          return function (row) { return expression.test(row); };
        } catch (error) {
          note.textContent = 'not a regular expression: ' + error.message;
          return null;
        }
      }
      var lower = text.toLowerCase();
      return function (row) { return row.toLowerCase().indexOf(lower) >= 0; };
    };

    var cellValue = function (row, column) {
      var index = {run: 1, created: 2, iterations: 3, epochs: 4, rows: 5,
                   last: 7, best: 8, writer: 9}[column];
      var text = row.cells[index] ? row.cells[index].textContent.trim() : '';
      var number = Number(text);
      return text !== '' && !isNaN(number) ? number : text;
    };

    var arrange = function () {
      // Summaries in their cells, rows sorted and filtered.
      var body = document.querySelector('#runs tbody');
      var rows = Array.prototype.slice.call(body.rows).filter(function (row) {
        return row.querySelector('.pick');
      });
      rows.forEach(function (row) {
        var found = view.key ? view.summary[row.querySelector('.pick').value] : null;
        var last = found && found.last, best = found && found[view.best];
        row.querySelector('.last').textContent = last ? String(last[1]) : '';
        row.querySelector('.best').textContent = best ? String(best[1]) : '';
        row.querySelector('.best').title = best ? 'at ' + best[0] : '';
      });
      if (view.sort) {
        var sign = view.descending ? -1 : 1;
        rows.sort(function (a, b) {
          var x = cellValue(a, view.sort), y = cellValue(b, view.sort);
          if (x === '' || y === '') { return (x === '') - (y === ''); }  // blanks last
          if (typeof x !== typeof y) { x = String(x); y = String(y); }
          return x < y ? -sign : x > y ? sign : 0;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      }
      document.querySelectorAll('#runs th[data-sort]').forEach(function (head) {
        head.setAttribute('aria-sort', head.dataset.sort !== view.sort ? 'none' :
                          view.descending ? 'descending' : 'ascending');
      });
      var match = matcher(), shownRows = 0;
      rows.forEach(function (row) {
        // its whole id, and what the row shows
        row.hidden = match !== null && !match(
          row.querySelector('.pick').value + ' ' + row.textContent);
        if (!row.hidden) { shownRows += 1; }
      });
      if (match !== null && view.filter) {
        note.textContent = shownRows + ' of ' + rows.length + ' runs';
      }
      rememberRuns();
    };

    var summarize = function () {
      if (!view.key) { view.summary = {}; arrange(); return Promise.resolve(); }
      var key = view.key;
      view.summarized = Date.now();
      return fetchJSON('/api/summary?' + query({key: key})).then(function (found) {
        if (key === view.key) { view.summary = found; arrange(); }
      }).catch(function () {});
    };

    document.querySelectorAll('#runs th[data-sort]').forEach(function (head) {
      head.tabIndex = 0;
      var sortBy = function () {
        view.descending = view.sort === head.dataset.sort ? !view.descending : false;
        view.sort = head.dataset.sort;
        arrange();
      };
      head.addEventListener('click', sortBy);
      head.addEventListener('keydown', function (event) {
        if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); sortBy(); }
      });
    });
    filterBox.addEventListener('input', function () {
      view.filter = filterBox.value;
      arrange();
    });
    keyBox.addEventListener('change', function () { view.key = keyBox.value; summarize(); });
    bestBox.addEventListener('change', function () { view.best = bestBox.value; arrange(); });
    document.getElementById('runs').addEventListener('change', update);
    picker.addEventListener('click', function () {
      window.location = '/compare?' + query({runs: picked().join(',')});
    });
    summarize();
    var refreshing = false;
    window.setInterval(function () {
      if (document.hidden || refreshing) { return; }
      refreshing = true;
      fetch(window.location.pathname).then(function (response) {
        if (!response.ok) { throw new Error(response.statusText); }
        return response.text();
      }).then(function (text) {
        var fresh = new DOMParser().parseFromString(text, 'text/html')
          .querySelector('#runs tbody');
        var keep = picked();
        fresh.querySelectorAll('.pick').forEach(function (box) {
          box.checked = keep.indexOf(box.value) >= 0;
        });
        var body = document.querySelector('#runs tbody');
        body.parentNode.replaceChild(document.importNode(fresh, true), body);
        update();
        arrange();
        if (view.key && Date.now() - view.summarized > SUMMARY_MS) { summarize(); }
      }).catch(function () {}).then(function () { refreshing = false; });
    }, RUNS_POLL_MS);
  }

  var app = document.getElementById('app');
  if (!app) { return; }
  var runs = app.dataset.runs.split(',');
  // What the URL says (a link or a reload shows the same view).
  var asked = new URLSearchParams(window.location.search);
  function number(name, fallback) {
    var value = parseFloat(asked.get(name));
    return isFinite(value) ? value : fallback;
  }
  // full: every run whole, downsampled, kept up to date while it trains;
  // view: the range zoomed into (zoom: [start, stop]), or null.
  var state = {full: null, view: null, keys: [], picked: null, charts: {},
               zoom: null, polling: false,
               smoothing: Math.min(0.99, Math.max(0, number('smoothing', SMOOTHING))),
               logx: asked.get('logx') === '1', logy: asked.get('logy') === '1',
               outliers: asked.get('outliers') === '1',
               // the time axis: steps, or the wall clock of each step's
               // commit (as it is, or since the run began)
               axis: ['relative', 'wall'].indexOf(asked.get('x')) >= 0 ? asked.get('x') : 'step',
               clocks: {}, began: {}, steps: {}, unclocked: {}};
  window.blocksLog = state;  // for the tests, and the curious

  function short(uuid) { return uuid.slice(0, 8); }

  function shown() { return state.view || state.full; }

  function remember() {
    // The view in the URL, in place (no new entry in the history).
    var parameters = new URLSearchParams(window.location.search);
    var set = function (name, value) {
      if (value === null || value === undefined || value === '') {
        parameters.delete(name);
      } else {
        parameters.set(name, String(value));
      }
    };
    set('keys', state.picked && state.picked.length !== state.keys.length ?
        names(state.picked) : null);
    set('smoothing', state.smoothing === SMOOTHING ? null : state.smoothing);
    set('start', state.zoom && state.zoom[0]);
    set('stop', state.zoom && state.zoom[1]);
    set('logx', state.logx ? 1 : null);
    set('x', state.axis === 'step' ? null : state.axis);
    set('logy', state.logy ? 1 : null);
    set('outliers', state.outliers ? 1 : null);
    var text = parameters.toString();
    window.history.replaceState(null, '', window.location.pathname +
                                (text ? '?' + text : ''));
  }

  function isNumeric(points) {
    return points[1].some(function (value) { return value !== null; });
  }

  function keysOf(data) {
    var keys = [];
    runs.forEach(function (uuid) {
      var run = data.runs[uuid];
      Object.keys(run.keys).forEach(function (key) {
        if (keys.indexOf(key) < 0 && isNumeric(run.keys[key])) { keys.push(key); }
      });
    });
    return keys.sort();
  }

  // The width of a chart, and of its plot in the screen's pixels: what
  // the server cuts a series into, a bucket to a pixel.
  function chartWidth() {
    var grid = document.getElementById('charts');
    var column = parseFloat(getComputedStyle(grid).gridTemplateColumns);
    return Math.max(280, (column || grid.clientWidth) - 10);
  }

  function wantedPoints() {
    var pixels = (chartWidth() - Y_AXIS - RIGHT_PAD) * (window.devicePixelRatio || 1);
    return 2 * Math.max(100, Math.round(pixels));
  }

  // As the server's downsample: points (each a logged one) cut into
  // buckets of equal width over [low, high), and of each its smallest
  // and largest, in time order; a bucket of nothing but gaps, a gap.
  function rebucket(points, buckets, low, high) {
    var times = points[0], values = points[1];
    if (times.length <= 2 * buckets) { return points; }
    var width = (high - low) / buckets, outTimes = [], outValues = [];
    var at = 0;
    for (var bucket = 0; bucket < buckets && at < times.length; bucket++) {
      var end = bucket === buckets - 1 ? Infinity : low + (bucket + 1) * width;
      var first = at, smallest = -1, largest = -1;
      for (; at < times.length && times[at] < end; at++) {
        var value = values[at];
        if (value === null) { continue; }
        if (smallest < 0 || value < values[smallest]) { smallest = at; }
        if (largest < 0 || value > values[largest]) { largest = at; }
      }
      if (at === first) { continue; }
      var kept = smallest < 0 ? [first] : smallest === largest ? [smallest] :
        [Math.min(smallest, largest), Math.max(smallest, largest)];
      kept.forEach(function (index) {
        outTimes.push(times[index]);
        outValues.push(smallest < 0 ? null : values[index]);
      });
    }
    return [outTimes, outValues];
  }

  // TensorBoard's smoothing, going on from a state the server gave
  // ([last, count]): as blocks_log.smoothing does it, step for step.
  function smoothMore(values, ema, weight) {
    return values.map(function (value) {
      if (value === null || !isFinite(value)) { return value; }
      ema[0] = ema[0] * weight + (1 - weight) * value;
      ema[1] += 1;
      var debias = 1 - Math.pow(weight, ema[1]);
      return debias === 1 ? ema[0] : ema[0] / debias;
    });
  }

  function logX() { return state.logx && state.axis === 'step'; }

  function xOf(uuid, step) {
    // Where a step of a run goes on the time axis; undefined for a step
    // with no wall clock (one the server says nothing of).
    if (state.axis === 'step') { return step; }
    var wall = (state.clocks[uuid] || new Map()).get(step);
    if (wall === undefined) { return undefined; }
    if (state.axis === 'wall') { return wall; }
    var began = state.began[uuid];
    return began === null || began === undefined ? undefined : wall - began;
  }

  function onScale(points, uuid, steps) {
    // What the axes can draw: on a log scale, times and values above 0;
    // on a clock, the steps that have one, in the order of their walls
    // (`steps`, if given, gets each one's step by its place).
    var value, times = [], values = [];
    if (state.axis === 'step') {
      points[0].forEach(function (time, index) {
        if (state.logx && time <= 0) { return; }
        value = points[1][index];
        times.push(time);
        values.push(state.logy && value !== null && value <= 0 ? null : value);
      });
      return [times, values];
    }
    var pairs = [];
    points[0].forEach(function (time, index) {
      var x = xOf(uuid, time);
      if (x === undefined) { return; }
      value = points[1][index];
      pairs.push([x, state.logy && value !== null && value <= 0 ? null : value, time]);
    });
    if (steps) { steps.missing += points[0].length - pairs.length; }
    // A clock may step back; the steps of one commit share its wall: the
    // last of them is drawn (the caption counts what is drawn).
    pairs.sort(function (a, b) { return a[0] - b[0] || a[2] - b[2]; });
    pairs.forEach(function (pair, index) {
      if (index + 1 < pairs.length && pairs[index + 1][0] === pair[0]) { return; }
      times.push(pair[0]);
      values.push(pair[1]);
      if (steps) { steps.set(pair[0], pair[2]); }
    });
    return [times, values];
  }

  function smoothed(run) {
    return state.smoothing > 0 && run.smoothed ? run.smoothed : null;
  }

  // One key's points of every run (and their smoothing), on one x axis
  // (uPlot.join aligns them).
  function table(key) {
    var data = shown(), parts = [];
    // each run's step at each time drawn on a clock, and how many of its
    // steps have none
    state.steps[key] = runs.map(function () {
      var steps = new Map();
      steps.missing = 0;
      return steps;
    });
    runs.forEach(function (uuid, index) {
      var run = data.runs[uuid];
      parts.push(onScale(run.keys[key] || [[], []], uuid, state.steps[key][index]));
      if (state.smoothing > 0) {
        parts.push(onScale((smoothed(run) || {})[key] || [[], []], uuid, null));
      }
    });
    return uPlot.join(parts);
  }

  function stepsIn(key, low, high) {
    // The steps drawn on a clock between `low` and `high`, of every run:
    // [first, last], or null.
    var first = Infinity, last = -Infinity;
    (state.steps[key] || []).forEach(function (steps) {
      steps.forEach(function (step, x) {
        if (x >= low && x <= high) {
          first = Math.min(first, step);
          last = Math.max(last, step);
        }
      });
    });
    return first <= last ? [first, last] : null;
  }

  function xRange() {
    // The time axis of the range zoomed into: its steps, or the clock of
    // the steps of every run in it (null: none has one).
    if (state.axis === 'step') { return {min: state.zoom[0], max: state.zoom[1] - 1}; }
    var low = Infinity, high = -Infinity;
    runs.forEach(function (uuid) {
      (state.clocks[uuid] || new Map()).forEach(function (wall, step) {
        var x = xOf(uuid, step);
        if (step >= state.zoom[0] && step < state.zoom[1] && x !== undefined) {
          low = Math.min(low, x);
          high = Math.max(high, x);
        }
      });
    });
    return low < high ? {min: low, max: high} : null;
  }

  function duration(seconds) {
    // Seconds since a run began, as a clock shows them: 45 s, 12:05,
    // 3:02:05, 2 d 3:02:05.
    var sign = seconds < 0 ? '-' : '';
    seconds = Math.abs(seconds);
    if (seconds < 60) { return sign + parseFloat(seconds.toFixed(seconds < 10 ? 2 : 1)) + ' s'; }
    var whole = Math.round(seconds), days = Math.floor(whole / 86400);
    var hours = Math.floor(whole % 86400 / 3600), minutes = Math.floor(whole % 3600 / 60);
    var two = function (number) { return (number < 10 ? '0' : '') + number; };
    var text = (hours || days ? hours + ':' + two(minutes) : String(minutes)) + ':' + two(whole % 60);
    return sign + (days ? days + ' d ' : '') + text;
  }

  function xText(x) {
    if (state.axis === 'wall') { return new Date(x * 1000).toLocaleString(); }
    if (state.axis === 'relative') { return duration(x); }
    return 'step ' + drawnText(x, uPlot.fmtNum);
  }

  function restartMarks(u) {
    // Where each run resumed another: a solid line of the run's colour,
    // and a label at its top, "resumed <id> at <step>".
    var context = u.ctx, data = shown();
    runs.forEach(function (uuid, index) {
      (data.runs[uuid].restarts || []).forEach(function (restart) {
        var at = xOf(uuid, restart[1]);
        if (at === undefined) { return; }
        var x = Math.round(u.valToPos(at, 'x', true));
        if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) { return; }
        context.save();
        context.strokeStyle = COLOURS[index % COLOURS.length];
        context.fillStyle = INK;
        context.lineWidth = 2 * (window.devicePixelRatio || 1);
        context.beginPath();
        context.moveTo(x, u.bbox.top);
        context.lineTo(x, u.bbox.top + u.bbox.height);
        context.stroke();
        context.font = Math.round(11 * (window.devicePixelRatio || 1)) + 'px sans-serif';
        context.fillText('\u21bb ' + short(restart[0]) + ' at ' + restart[1],
                         x + 4, u.bbox.top + 12 * (window.devicePixelRatio || 1));
        context.restore();
      });
    });
  }

  function epochLines(u) {
    // Dashed, in a colour of their own and offset from the grid: an epoch
    // that ends at a round step is not taken for a grid line.
    if (runs.length !== 1) { return; }
    var ends = shown().runs[runs[0]].epochs || [];
    var context = u.ctx;
    context.save();
    context.strokeStyle = EPOCH_COLOUR;
    context.setLineDash([3, 5]);
    context.lineDashOffset = 2;
    context.lineWidth = Math.max(1, Math.round(window.devicePixelRatio || 1));
    ends.forEach(function (end) {
      var at = xOf(runs[0], end);
      if (at === undefined) { return; }
      var x = Math.round(u.valToPos(at, 'x', true));
      if (x >= u.bbox.left && x <= u.bbox.left + u.bbox.width) {
        context.beginPath();
        context.moveTo(x, u.bbox.top);
        context.lineTo(x, u.bbox.top + u.bbox.height);
        context.stroke();
      }
    });
    context.restore();
  }

  function width(element) {
    return Math.max(280, element.clientWidth - 10);
  }

  function logged(key) {
    var data = shown(), count = 0;
    runs.forEach(function (uuid) { count += data.runs[uuid].count[key] || 0; });
    return count;
  }

  function caption(entry, key, data) {
    // Points drawn of the logged values (not of their smoothing).
    var drawn = 0, step = state.smoothing > 0 ? 2 : 1;
    for (var index = 1; index < data.length; index += step) {
      data[index].forEach(function (value) { if (value !== undefined) { drawn += 1; } });
    }
    entry.box.dataset.points = String(data[0].length);
    entry.box.dataset.drawn = String(drawn);
    entry.box.dataset.logged = String(logged(key));
    var missing = 0;
    (state.steps[key] || []).forEach(function (steps) { missing += steps.missing; });
    entry.box.dataset.unclocked = String(missing);
    // Steps past 2 ** 53 (a clock's nanoseconds as the time): a float, as
    // JavaScript holds a number, places them to the nearest one it holds.
    var steps = data[0], rounded = state.axis === 'step' && steps.length > 0 &&
      Math.abs(steps[steps.length - 1]) >= EXACT_INTS;
    entry.note.textContent = logged(key).toLocaleString('en') + ' logged / ' +
      drawn.toLocaleString('en') + ' drawn' + (missing ? ', ' +
      missing.toLocaleString('en') + ' with no wall clock (written before ' +
      'blocks_log kept one, or held in memory)' : '') +
      (rounded ? ', steps past 2^53 placed as floats (not exact)' : '');
  }

  function faint(colour) {
    // The logged values behind their smoothing, as TensorBoard draws them.
    var value = parseInt(colour.slice(1), 16);
    return 'rgba(' + (value >> 16) + ', ' + ((value >> 8) & 255) + ', ' +
      (value & 255) + ', 0.25)';
  }

  function markerDash(dash) {
    // The border style that stands for a line's dash in a legend or a tip.
    var text = (dash || []).join();
    for (var each = 0; each < DASHES.length; each++) {
      if (DASHES[each].join() === text) { return MARKER_DASHES[each]; }
    }
    return 'solid';
  }

  function seriesOf(key) {
    var series = [{label: 'time'}];
    if (state.axis === 'relative') {  // the legend's time as the axis shows it
      series[0].value = function (u, x) {
        return x === null || x === undefined ? '--' : duration(x);
      };
    }
    runs.forEach(function (uuid, index) {
      var colour = COLOURS[index % COLOURS.length];
      var dash = DASHES[index % DASHES.length];
      var label = runs.length === 1 ? key : short(uuid);
      var smooth = state.smoothing > 0;
      series.push({label: smooth ? label + ' (logged)' : label,
                   stroke: smooth ? faint(colour) : colour, width: smooth ? 1 : 1.5,
                   dash: dash, spanGaps: false, points: {show: false}, value: legendValue});
      if (smooth) {
        series.push({label: label, stroke: colour, width: 1.5, dash: dash,
                     spanGaps: false, points: {show: false}, value: legendValue});
      }
    });
    return series;
  }

  function drawnText(value, text) {
    // A value drawn (a float), as text: past 2 ** 53 a float may stand for
    // an int logged that it rounds, and its digits would read as that int.
    return Math.abs(value) >= EXACT_INTS ? value.toExponential() : text(value);
  }

  function legendValue(u, value) {
    return value === null || value === undefined ? '--' : drawnText(value, uPlot.fmtNum);
  }

  function drawChart(key) {
    var box = document.createElement('div');
    box.className = 'chart';
    box.dataset.key = key;
    var title = document.createElement('h3');
    title.textContent = key;
    var note = document.createElement('span');
    note.className = 'drawn';
    box.appendChild(title);
    box.appendChild(note);
    ['csv', 'json'].forEach(function (format) {
      // every value of the chart's key, in the range shown
      var link = document.createElement('a');
      link.className = 'export ' + format;
      link.textContent = format.toUpperCase();
      link.download = '';
      box.appendChild(link);
    });
    var tip = document.createElement('div');
    tip.className = 'tip';
    tip.hidden = true;
    box.appendChild(tip);
    document.getElementById('charts').appendChild(box);
    var series = seriesOf(key);
    var data = table(key);
    var axis = {stroke: INK, grid: {stroke: GRID}, ticks: {stroke: GRID}};
    var chart = new uPlot({
      width: width(box), height: 260, series: series,
      padding: [12, RIGHT_PAD, 0, 0],
      scales: {x: {time: state.axis === 'wall', distr: logX() ? 3 : 1},
               y: {distr: state.logy ? 3 : 1,
                   range: state.outliers ? withoutOutliers : undefined}},
      axes: [Object.assign(state.axis === 'step' ?
                           {label: 'time (iterations)', incrs: state.logx ? undefined : WHOLE} :
                           state.axis === 'wall' ? {label: 'wall clock'} :
                           {label: 'time since the run began',
                            values: function (u, splits) { return splits.map(duration); }},
                           {labelSize: 20}, axis),
             Object.assign({label: key.length > 24 ? key.slice(0, 22) + '\u2026' : key,
                            labelSize: 28, size: Y_AXIS}, axis)],
      legend: {markers: {dash: function (u, index) {
        return markerDash(u.series[index].dash);
      }}},
      cursor: {drag: {x: true, y: false}, sync: {key: 'blocks-log'}},
      hooks: {draw: [epochLines, restartMarks], setCursor: [function (u) { showTip(u, tip); }],
              setSelect: [function (u) {
        if (u.select.width > 2) {
          var low = u.posToVal(u.select.left, 'x');
          var high = u.posToVal(u.select.left + u.select.width, 'x');
          if (state.axis === 'step') {
            zoom(Math.floor(low), Math.ceil(high) + 1);
            return;
          }
          var steps = stepsIn(key, low, high);
          if (steps) { zoom(steps[0], steps[1] + 1); }
        }
      }]}
    }, data, box);
    state.charts[key] = {chart: chart, box: box, note: note};
    caption(state.charts[key], key, data);
    var range = state.zoom === null ? null : xRange();
    if (range) { chart.setScale('x', range); }
    box.addEventListener('dblclick', function () { zoom(null, null); });
  }

  function csvLink() {
    var range = {start: state.zoom && state.zoom[0], stop: state.zoom && state.zoom[1]};
    var link = document.getElementById('csv');
    link.href = '/api/csv?' + query(Object.assign({
      runs: runs.join(','), keys: names(state.picked)}, range));
    Object.keys(state.charts).forEach(function (key) {
      ['csv', 'json'].forEach(function (format) {
        state.charts[key].box.querySelector('a.' + format).href = '/api/' + format +
          '?' + query(Object.assign({runs: runs.join(','), keys: names([key])}, range));
      });
    });
  }

  function withoutOutliers(u, low, high) {
    // The values between the 5th and the 95th percentile of what is
    // drawn, and a little room: a spike does not flatten the rest.
    var values = [];
    u.data.slice(1).forEach(function (series) {
      series.forEach(function (value) {
        if (value !== null && value !== undefined && isFinite(value)) { values.push(value); }
      });
    });
    if (values.length < 20) { return [low, high]; }
    values.sort(function (a, b) { return a - b; });
    var bottom = values[Math.floor(0.05 * (values.length - 1))];
    var top = values[Math.ceil(0.95 * (values.length - 1))];
    var room = (top - bottom) * 0.1 || Math.abs(top) * 0.1 || 1;
    return [bottom - room, top + room];
  }

  function bucketOf(run, key, step) {
    // For a step drawn from a downsampled series: "min\u2013max over steps
    // a\u2013b" of its bucket (from the points drawn of it: its extremes);
    // nothing for a series drawn whole.
    var geometry = run.buckets && run.buckets[key];
    var points = run.keys[key];
    if (!geometry || !points) { return ''; }
    var first = geometry[0], width = geometry[1], count = geometry[2];
    var bucket = Math.min(count - 1, Math.floor((step - first) / width));
    var low = Math.ceil(first + bucket * width);
    var high = bucket === count - 1 ? points[0][points[0].length - 1] :
      Math.ceil(first + (bucket + 1) * width) - 1;
    var values = [];
    points[0].forEach(function (time, index) {
      if (time >= low && time <= high && points[1][index] !== null) {
        values.push(points[1][index]);
      }
    });
    if (high <= low || !values.length) { return ''; }
    return ' (' + drawnText(Math.min.apply(null, values), String) + '\u2013' +
      drawnText(Math.max.apply(null, values), String) + ' over steps ' + uPlot.fmtNum(low) +
      '\u2013' + uPlot.fmtNum(high) + ')';
  }

  function showTip(u, tip) {
    // Every run's value at the step under the cursor, the highest first
    // (each a value logged at that step, or its smoothing), beside it.
    var index = u.cursor.idx;
    if (index === null || index === undefined || u.cursor.left < 0) {
      tip.hidden = true;
      return;
    }
    var lines = [], perRun = state.smoothing > 0 ? 2 : 1, data = shown();
    var key = u.root.parentNode.dataset.key, x = u.data[0][index];
    u.series.forEach(function (series, at) {
      var value = at > 0 ? u.data[at][index] : null;
      if (value !== null && value !== undefined && series.show) {
        // the logged values' series of each run: their bucket too; on a
        // clock, each run's own step
        var logged = (at - 1) % perRun === 0, place = Math.floor((at - 1) / perRun);
        var run = data.runs[runs[place]];
        var step = state.axis === 'step' ? x : state.steps[key][place].get(x);
        lines.push({label: series.label, value: value, colour: series._stroke,
                    dash: series.dash || [],
                    bucket: (state.axis === 'step' || step === undefined ? '' :
                             ' at step ' + uPlot.fmtNum(step)) +
                      (logged && step !== undefined ? bucketOf(run, key, step) : '')});
      }
    });
    if (!lines.length) { tip.hidden = true; return; }
    lines.sort(function (a, b) { return b.value - a.value; });
    tip.textContent = '';
    var head = document.createElement('div');
    head.className = 'step';
    head.textContent = xText(x);
    tip.appendChild(head);
    lines.forEach(function (line) {
      var row = document.createElement('div');
      var mark = document.createElement('span');
      mark.className = 'mark';
      mark.style.borderTopColor = line.colour;
      mark.style.borderTopStyle = markerDash(line.dash);
      row.appendChild(mark);
      row.appendChild(document.createTextNode(line.label + ': ' +
                                              drawnText(line.value, String) + line.bucket));
      tip.appendChild(row);
    });
    tip.hidden = false;
    var left = u.over.offsetLeft + u.cursor.left + 12;
    var room = u.root.clientWidth - tip.offsetWidth - 4;
    tip.style.left = Math.max(0, left > room ? left - tip.offsetWidth - 24 : left) + 'px';
    tip.style.top = (u.over.offsetTop + Math.max(0, u.cursor.top - 10)) + 'px';
  }

  function drawCharts() {
    var charts = document.getElementById('charts');
    Object.keys(state.charts).forEach(function (key) {
      state.charts[key].chart.destroy();
    });
    state.charts = {};
    charts.textContent = '';
    state.picked.forEach(drawChart);
    csvLink();
    remember();
  }

  function refreshCharts() {
    Object.keys(state.charts).forEach(function (key) {
      var entry = state.charts[key], data = table(key);
      entry.chart.setData(data, state.zoom === null);
      var range = state.zoom === null ? null : xRange();
      if (range) { entry.chart.setScale('x', range); }
      caption(entry, key, data);
    });
    csvLink();
    remember();
  }

  function drawKeyPicker() {
    var place = document.getElementById('keys');
    place.textContent = '';
    state.keys.forEach(function (key) {
      var label = document.createElement('label');
      var box = document.createElement('input');
      box.type = 'checkbox';
      box.value = key;
      box.checked = state.picked.indexOf(key) >= 0;
      box.addEventListener('change', function () {
        state.picked = state.keys.filter(function (each) {
          return place.querySelector('input[value="' + CSS.escape(each) + '"]').checked;
        });
        drawCharts();
      });
      label.appendChild(box);
      label.appendChild(document.createTextNode(key));
      place.appendChild(label);
    });
  }

  function drawRows() {
    if (runs.length !== 1) {
      document.getElementById('rows').parentNode.previousElementSibling.hidden = true;
      document.getElementById('rows').parentNode.hidden = true;
      return;
    }
    fetchJSON('/api/rows?' + query({run: runs[0], limit: 20})).then(function (found) {
      var head = document.querySelector('#rows thead');
      var body = document.querySelector('#rows tbody');
      head.textContent = '';
      body.textContent = '';
      var line = document.createElement('tr');
      ['time'].concat(found.columns).forEach(function (name) {
        var cell = document.createElement('th');
        cell.textContent = name;
        cell.className = 'number';
        line.appendChild(cell);
      });
      head.appendChild(line);
      found.rows.forEach(function (row) {
        var tr = document.createElement('tr');
        row.forEach(function (value, index) {
          var cell = document.createElement('td');
          cell.textContent = value;
          if (index === 0 || (value !== '' && !isNaN(Number(value)))) {
            cell.className = 'number';
          }
          tr.appendChild(cell);
        });
        body.appendChild(tr);
      });
    });
  }

  function drawAbout() {
    // What the page's head says of each run, as it trains.
    runs.forEach(function (uuid) {
      var run = state.full.runs[uuid];
      document.querySelectorAll('.about [data-run="' + uuid + '"]').forEach(
        function (place) {
          var value = run[place.dataset.field];
          if (value !== null && value !== undefined) {
            place.textContent = String(value);
          }
        });
    });
  }

  function numbersOf(text) {
    // What the server sends as numbers=base64: float64s, little-endian; a
    // gap is NaN, drawn as null.
    var bytes = atob(text), buffer = new Uint8Array(bytes.length);
    for (var at = 0; at < bytes.length; at += 1) { buffer[at] = bytes.charCodeAt(at); }
    var floats = new Float64Array(buffer.buffer), values = new Array(floats.length);
    for (var index = 0; index < floats.length; index += 1) {
      values[index] = isNaN(floats[index]) ? null : floats[index];
    }
    return values;
  }

  function load(start, stop, keys, smooth) {
    return fetchJSON('/api/series?' + query({
      runs: runs.join(','), keys: keys ? names(keys) : null, start: start,
      stop: stop, points: wantedPoints(), numbers: 'base64',
      clock: state.axis === 'step' ? null : 1,
      smoothing: smooth && state.smoothing > 0 ? state.smoothing : null}))
      .then(function (data) {
        // The server sends the smoothing at the times of the values only.
        runs.forEach(function (uuid) {
          var run = data.runs[uuid];
          if (run.clock) {  // every wall known, kept for every view
            var clock = state.clocks[uuid] = state.clocks[uuid] || new Map();
            var walls = numbersOf(run.clock[1]);
            run.clock[0].forEach(function (time, index) {
              if (walls[index] !== null) { clock.set(time, walls[index]); }
            });
          }
          if (run.began !== null && run.began !== undefined) { state.began[uuid] = run.began; }
          Object.keys(run.keys).forEach(function (key) {
            run.keys[key][1] = numbersOf(run.keys[key][1]);
          });
          Object.keys(run.smoothed || {}).forEach(function (key) {
            run.smoothed[key] = [run.keys[key][0], numbersOf(run.smoothed[key])];
          });
        });
        return data;
      });
  }

  function atTimes(line, times) {
    // The values of `line` ([times, values]) at `times`, which it holds.
    var found = new Map();
    line[0].forEach(function (time, index) { found.set(time, line[1][index]); });
    return [times, times.map(function (time) {
      return found.has(time) ? found.get(time) : null;
    })];
  }

  function zoom(start, stop) {
    // A range asked for again: the finer points of it. Out of a zoom, the
    // whole runs as polling has kept them.
    state.zoom = start === null ? null : [start, stop];
    if (start === null) {
      state.view = null;
      refreshCharts();
      return;
    }
    // the keys named, so that a key with no point in the range comes
    // with its points beyond its ends
    load(start, stop, state.picked.length <= MAX_KEYS ? state.picked : null, true)
      .then(function (data) {
        if (state.zoom === null || state.zoom[0] !== start || state.zoom[1] !== stop) {
          return;  // zoomed again, or out, while this was on its way
        }
        state.view = data;
        refreshCharts();
      });
  }

  function lastTime() {
    var last = -1;
    runs.forEach(function (uuid) {
      var run = state.full.runs[uuid];
      if (run.last_time !== null && run.last_time > last) { last = run.last_time; }
    });
    return last;
  }

  function reload() {
    // The whole runs again (their smoothing changed, or cannot go on here).
    return load(null, null, null, true).then(function (data) {
      state.full = data;
      if (state.zoom !== null) {
        zoom(state.zoom[0], state.zoom[1]);
      } else {
        drawCharts();
      }
    });
  }

  function cut(line, since) {
    // `line` ([times, values]) before `since`.
    var keep = line[0].length;
    while (keep > 0 && line[0][keep - 1] >= since) { keep -= 1; }
    return [line[0].slice(0, keep), line[1].slice(0, keep)];
  }

  function after(line, since) {
    // `line` from `since` on.
    var from = 0;
    while (from < line[0].length && line[0][from] < since) { from += 1; }
    return [line[0].slice(from), line[1].slice(from)];
  }

  function goOn(run, key, fresher, replaced, count, since) {
    // The smoothing of a key's new values (`fresher`, from `since` on),
    // gone on with here from where the server left it; false where it
    // cannot be: the new values downsampled, or a key of one value so far
    // that changes.
    if (!run.smoothed || fresher[0].length !== count) { return false; }
    var line = cut(run.smoothed[key] || [[], []], since);
    var values = fresher[1], ema = run.ema && run.ema[key];
    if (!ema) {  // one value so far: not smoothed, unless it changes
      var same = run.keys[key][1].concat(values).filter(function (value) {
        return value !== null && isFinite(value);
      });
      if (same.some(function (value) { return value !== same[0]; })) { return false; }
      run.smoothed[key] = [line[0].concat(fresher[0]), line[1].concat(values)];
      return true;
    }
    // from before the last time known, if asked for again
    var going = replaced ? [ema[2], ema[3]] : [ema[0], ema[1]];
    var head = smoothMore(values.slice(0, -1), going, state.smoothing);
    var before = going.slice();
    var tail = smoothMore(values.slice(-1), going, state.smoothing);
    run.ema[key] = [going[0], going[1], before[0], before[1]];
    run.smoothed[key] = [line[0].concat(fresher[0]), line[1].concat(head, tail)];
    return true;
  }

  function smoothFromServer(since, keys) {
    // The smoothing of new values from `since` on, made by the server over
    // the whole run (it reads what came before; it sends only what is new).
    return load(since, null, keys.length <= MAX_KEYS ? keys : null, true)
      .then(function (fresh) {
        runs.forEach(function (uuid) {
          var run = state.full.runs[uuid], more = fresh.runs[uuid];
          keys.forEach(function (key) {
            if (!more.smoothed || !more.smoothed[key]) { return; }
            var line = cut(run.smoothed[key] || [[], []], since);
            var fresher = after(more.smoothed[key], since);
            run.smoothed = run.smoothed || {};
            run.smoothed[key] = [line[0].concat(fresher[0]),
                                 line[1].concat(fresher[1])];
            run.ema = run.ema || {};
            run.ema[key] = more.ema[key];
          });
        });
      });
  }

  function poll() {
    // The iterations from the last one known on (its row may have grown),
    // put in place of what was known of them, and their smoothing gone on
    // with from where the server left it; a series grown past twice what
    // a chart draws is cut into buckets again here, never fetched whole
    // again. Nothing while the page is hidden.
    if (document.hidden || state.polling || !state.full) { return; }
    state.polling = true;
    var since = lastTime();
    var request = since < 0 ? load(null, null, null, true) : load(since, null, null, false);
    request.then(function (fresh) {
      var added = 0, needed = {}, buckets = wantedPoints() / 2;
      runs.forEach(function (uuid) {
        var run = state.full.runs[uuid], more = fresh.runs[uuid];
        Object.keys(more.keys).forEach(function (key) {
          var points = cut(run.keys[key] || [[], []], since);
          var fresher = after(more.keys[key], since);  // not the edge
          var replaced = since >= 0 && run.last[key] === since ? 1 : 0;
          added += more.count[key] - replaced;
          if (state.smoothing > 0 && more.count[key] &&
              !goOn(run, key, fresher, replaced, more.count[key], since)) {
            needed[key] = true;
          }
          run.count[key] = (run.count[key] || 0) - replaced + more.count[key];
          if (more.last[key] !== null) { run.last[key] = more.last[key]; }
          points = [points[0].concat(fresher[0]), points[1].concat(fresher[1])];
          if (points[0].length > 4 * buckets) {
            points = rebucket(points, buckets, points[0][0],
                              points[0][points[0].length - 1] + 1);
            if (run.smoothed && run.smoothed[key]) {  // one x axis still
              run.smoothed[key] = atTimes(run.smoothed[key], points[0]);
            }
          }
          run.keys[key] = points;
        });
        run.epochs = more.epochs;
        run.iterations = more.iterations;
        run.epochs_done = more.epochs_done;
        run.restarts = more.restarts;
        if (more.last_time !== null) { run.last_time = more.last_time; }
      });
      document.getElementById('live').textContent =
        'updated ' + new Date().toLocaleTimeString();
      drawAbout();
      var smoothing = Object.keys(needed);
      if (smoothing.length) {
        return smoothFromServer(since, smoothing).then(function () { return added; });
      }
      return added;
    }).then(function (added) {
      if (!added) { return; }
      var newKeys = keysOf(state.full).filter(function (key) {
        return state.keys.indexOf(key) < 0;
      });
      if (newKeys.length) {
        state.keys = keysOf(state.full);
        state.picked = state.picked.concat(newKeys);
        drawKeyPicker();
        drawCharts();
      } else if (state.zoom === null) {
        refreshCharts();
      }
      drawRows();
    }).catch(function () {}).then(function () { state.polling = false; });
  }

  function controls() {
    var slider = document.getElementById('smoothing');
    var shownValue = document.getElementById('smoothing-value');
    slider.value = String(state.smoothing);
    shownValue.textContent = String(state.smoothing);
    var pending = null;
    slider.addEventListener('input', function () {
      state.smoothing = parseFloat(slider.value);
      shownValue.textContent = slider.value;
      window.clearTimeout(pending);  // once the slider rests
      pending = window.setTimeout(reload, 150);
    });
    var axis = document.getElementById('axis'), logx = document.getElementById('logx');
    axis.value = state.axis;
    logx.disabled = state.axis !== 'step';
    axis.addEventListener('change', function () {
      state.axis = axis.value;
      logx.disabled = state.axis !== 'step';  // a log of the clock: no
      reload();  // with the clock of every step drawn
    });
    ['logx', 'logy', 'outliers'].forEach(function (name) {
      var box = document.getElementById(name);
      box.checked = state[name];
      box.addEventListener('change', function () {
        state[name] = box.checked;
        drawCharts();
      });
    });
  }

  load(null, null, null, true).then(function (data) {
    state.full = data;
    state.keys = keysOf(data);
    var named = splitNames(asked.get('keys') || '').filter(function (key) {
      return state.keys.indexOf(key) >= 0;
    });
    state.picked = named.length ? named : state.keys.slice();
    var start = number('start', null), stop = number('stop', null);
    if (start !== null && stop !== null && stop > start) {
      state.zoom = [start, stop];
    }
    controls();
    drawKeyPicker();
    drawCharts();
    drawRows();
    if (state.zoom !== null) { zoom(state.zoom[0], state.zoom[1]); }
    app.dataset.ready = 'true';
    window.setInterval(poll, POLL_MS);
    document.addEventListener('visibilitychange', poll);
    window.addEventListener('resize', function () {
      Object.keys(state.charts).forEach(function (key) {
        var entry = state.charts[key];
        entry.chart.setSize({width: width(entry.box), height: 260});
      });
    });
  }).catch(function (error) {
    var note = document.createElement('p');
    note.textContent = 'Cannot read the runs: ' + error.message;
    document.getElementById('charts').appendChild(note);
  });
}());
