// blocks-log serve: the runs page's comparison picker, and the charts of a
// run (or of runs compared), kept up to date while the run trains.
// Everything from a log is put in the page as text (textContent), never as
// HTML.
(function () {
  'use strict';

  var COLOURS = ['#2a62c9', '#d1495b', '#2e9e6b', '#e08a1e', '#7a4fc9',
                 '#19a3b5', '#8c6d1f', '#c94f9e'];
  var Y_AXIS = 60;         // the width of a chart's value axis
  var RIGHT_PAD = 24;
  var MAX_KEYS = 256;      // what the server lets a request name      // room for the last label of the time axis
  var EPOCH_COLOUR = 'rgba(209, 73, 91, 0.55)';
  var POLL_MS = 500;       // new iterations appear within 2 s
  var RUNS_POLL_MS = 2000; // the runs page: new runs within a few s
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

  function query(parameters) {
    return Object.keys(parameters).filter(function (name) {
      return parameters[name] !== null && parameters[name] !== undefined &&
        parameters[name] !== '';
    }).map(function (name) {
      return encodeURIComponent(name) + '=' + encodeURIComponent(parameters[name]);
    }).join('&');
  }

  // The runs page: pick runs, compare them; the table follows the runs
  // as they train and as new ones start (the server's own rows, the runs
  // picked kept picked).
  var picker = document.getElementById('compare');
  if (picker) {
    var boxes = function () {
      return Array.prototype.slice.call(document.querySelectorAll('.pick'));
    };
    var picked = function () {
      return boxes().filter(function (box) { return box.checked; })
        .map(function (box) { return box.value; });
    };
    var update = function () { picker.disabled = picked().length < 2; };
    document.getElementById('runs').addEventListener('change', update);
    picker.addEventListener('click', function () {
      window.location = '/compare?' + query({runs: picked().join(',')});
    });
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
      }).catch(function () {}).then(function () { refreshing = false; });
    }, RUNS_POLL_MS);
  }

  var app = document.getElementById('app');
  if (!app) { return; }
  var runs = app.dataset.runs.split(',');
  // full: every run whole, downsampled, kept up to date while it trains;
  // view: the range zoomed into (zoom: [start, stop]), or null.
  var state = {full: null, view: null, keys: [], picked: null, charts: {},
               zoom: null, polling: false};
  window.blocksLog = state;  // for the tests, and the curious

  function short(uuid) { return uuid.slice(0, 8); }

  function shown() { return state.view || state.full; }

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

  // One key's points of every run, on one x axis (uPlot.join aligns them).
  function table(key) {
    var data = shown();
    var parts = runs.map(function (uuid) {
      var points = data.runs[uuid].keys[key] || [[], []];
      return [points[0], points[1]];
    });
    return uPlot.join(parts);
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
      var x = Math.round(u.valToPos(end, 'x', true));
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
    var drawn = 0;
    data.slice(1).forEach(function (values) {
      values.forEach(function (value) { if (value !== undefined) { drawn += 1; } });
    });
    entry.box.dataset.points = String(data[0].length);
    entry.box.dataset.drawn = String(drawn);
    entry.box.dataset.logged = String(logged(key));
    entry.note.textContent = logged(key).toLocaleString('en') + ' logged / ' +
      drawn.toLocaleString('en') + ' drawn';
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
    document.getElementById('charts').appendChild(box);
    var series = [{label: 'time'}].concat(runs.map(function (uuid, index) {
      return {label: runs.length === 1 ? key : short(uuid),
              stroke: COLOURS[index % COLOURS.length], width: 1.5,
              spanGaps: false, points: {show: false}};
    }));
    var data = table(key);
    var chart = new uPlot({
      width: width(box), height: 260, series: series,
      padding: [12, RIGHT_PAD, 0, 0],
      scales: {x: {time: false}},
      axes: [{label: 'time (iterations)', labelSize: 20, incrs: WHOLE},
             {label: key.length > 24 ? key.slice(0, 22) + '\u2026' : key,
              labelSize: 28, size: Y_AXIS}],
      cursor: {drag: {x: true, y: false}},
      hooks: {draw: [epochLines], setSelect: [function (u) {
        if (u.select.width > 2) {
          var low = Math.floor(u.posToVal(u.select.left, 'x'));
          var high = Math.ceil(u.posToVal(u.select.left + u.select.width, 'x'));
          zoom(low, high + 1);
        }
      }]}
    }, data, box);
    state.charts[key] = {chart: chart, box: box, note: note};
    caption(state.charts[key], key, data);
    box.addEventListener('dblclick', function () { zoom(null, null); });
  }

  function csvLink() {
    var link = document.getElementById('csv');
    link.href = '/api/csv?' + query({
      runs: runs.join(','), keys: state.picked.join(','),
      start: state.zoom && state.zoom[0], stop: state.zoom && state.zoom[1]});
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
  }

  function refreshCharts() {
    Object.keys(state.charts).forEach(function (key) {
      var entry = state.charts[key], data = table(key);
      entry.chart.setData(data, state.zoom === null);
      if (state.zoom !== null) {
        entry.chart.setScale('x', {min: state.zoom[0], max: state.zoom[1] - 1});
      }
      caption(entry, key, data);
    });
    csvLink();
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

  function load(start, stop, keys) {
    return fetchJSON('/api/series?' + query({
      runs: runs.join(','), keys: keys ? keys.join(',') : null, start: start,
      stop: stop, points: wantedPoints()}));
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
    load(start, stop, state.picked.length <= MAX_KEYS ? state.picked : null)
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

  function poll() {
    // The iterations from the last one known on (its row may have grown),
    // put in place of what was known of them; a series grown past twice
    // what a chart draws is cut into buckets again here, never fetched
    // whole again. Nothing while the page is hidden.
    if (document.hidden || state.polling) { return; }
    state.polling = true;
    var since = lastTime();
    var request = since < 0 ? load(null, null) : load(since, null);
    request.then(function (fresh) {
      var added = 0, buckets = wantedPoints() / 2;
      runs.forEach(function (uuid) {
        var run = state.full.runs[uuid], more = fresh.runs[uuid];
        Object.keys(more.keys).forEach(function (key) {
          var points = run.keys[key] || [[], []];
          var fresh = more.keys[key], from = 0;
          while (from < fresh[0].length && fresh[0][from] < since) { from += 1; }
          fresh = [fresh[0].slice(from), fresh[1].slice(from)];  // not the edge
          var keep = points[0].length;
          while (keep > 0 && points[0][keep - 1] >= since) { keep -= 1; }
          var replaced = since >= 0 && run.last[key] === since ? 1 : 0;
          added += more.count[key] - replaced;
          run.count[key] = (run.count[key] || 0) - replaced + more.count[key];
          if (more.last[key] !== null) { run.last[key] = more.last[key]; }
          points = [points[0].slice(0, keep).concat(fresh[0]),
                    points[1].slice(0, keep).concat(fresh[1])];
          if (points[0].length > 4 * buckets) {
            points = rebucket(points, buckets, points[0][0],
                              points[0][points[0].length - 1] + 1);
          }
          run.keys[key] = points;
        });
        run.epochs = more.epochs;
        run.iterations = more.iterations;
        run.epochs_done = more.epochs_done;
        if (more.last_time !== null) { run.last_time = more.last_time; }
      });
      document.getElementById('live').textContent =
        'updated ' + new Date().toLocaleTimeString();
      drawAbout();
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

  load(null, null).then(function (data) {
    state.full = data;
    state.keys = keysOf(data);
    state.picked = state.keys.slice();
    drawKeyPicker();
    drawCharts();
    drawRows();
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
