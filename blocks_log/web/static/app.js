// blocks-log serve: the runs page's comparison picker, and the charts of a
// run (or of runs compared), kept up to date while the run trains.
// Everything from a log is put in the page as text (textContent), never as
// HTML.
(function () {
  'use strict';

  var COLOURS = ['#2a62c9', '#d1495b', '#2e9e6b', '#e08a1e', '#7a4fc9',
                 '#19a3b5', '#8c6d1f', '#c94f9e'];
  var POINTS = 2000;       // what the server sends a chart at most
  var POLL_MS = 500;       // new iterations appear within 2 s
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

  // The runs page: pick runs, compare them.
  var picker = document.getElementById('compare');
  if (picker) {
    var boxes = Array.prototype.slice.call(document.querySelectorAll('.pick'));
    var update = function () {
      picker.disabled = boxes.filter(function (box) { return box.checked; }).length < 2;
    };
    boxes.forEach(function (box) { box.addEventListener('change', update); });
    picker.addEventListener('click', function () {
      var picked = boxes.filter(function (box) { return box.checked; })
        .map(function (box) { return box.value; });
      window.location = '/compare?' + query({runs: picked.join(',')});
    });
  }

  var app = document.getElementById('app');
  if (!app) { return; }
  var runs = app.dataset.runs.split(',');
  var state = {data: null, keys: [], picked: null, charts: {}, zoom: null};
  window.blocksLog = state;  // for the tests, and the curious

  function short(uuid) { return uuid.slice(0, 8); }

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

  // One key's points of every run, on one x axis (uPlot.join aligns them).
  function table(key) {
    var parts = runs.map(function (uuid) {
      var points = state.data.runs[uuid].keys[key] || [[], []];
      return [points[0], points[1]];
    });
    return uPlot.join(parts);
  }

  function epochLines(u) {
    if (runs.length !== 1) { return; }
    var ends = state.data.runs[runs[0]].epochs || [];
    var context = u.ctx;
    context.save();
    context.strokeStyle = 'rgba(0, 0, 0, 0.18)';
    context.setLineDash([4, 4]);
    context.lineWidth = 1;
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

  function drawChart(key) {
    var box = document.createElement('div');
    box.className = 'chart';
    box.dataset.key = key;
    var title = document.createElement('h3');
    title.textContent = key;
    box.appendChild(title);
    document.getElementById('charts').appendChild(box);
    var series = [{label: 'time'}].concat(runs.map(function (uuid, index) {
      return {label: runs.length === 1 ? key : short(uuid),
              stroke: COLOURS[index % COLOURS.length], width: 1.5,
              spanGaps: false, points: {show: false}};
    }));
    var data = table(key);
    var chart = new uPlot({
      width: width(box), height: 260, series: series,
      scales: {x: {time: false}},
      axes: [{label: 'time (iterations)', labelSize: 20, incrs: WHOLE},
             {label: key.length > 24 ? key.slice(0, 22) + '\u2026' : key,
              labelSize: 28, size: 60}],
      cursor: {drag: {x: true, y: false}},
      hooks: {draw: [epochLines], setSelect: [function (u) {
        if (u.select.width > 2) {
          var low = Math.floor(u.posToVal(u.select.left, 'x'));
          var high = Math.ceil(u.posToVal(u.select.left + u.select.width, 'x'));
          zoom(low, high + 1);
        }
      }]}
    }, data, box);
    box.dataset.points = String(data[0].length);
    box.addEventListener('dblclick', function () { zoom(null, null); });
    state.charts[key] = {chart: chart, box: box};
  }

  function drawCharts() {
    var charts = document.getElementById('charts');
    Object.keys(state.charts).forEach(function (key) {
      state.charts[key].chart.destroy();
    });
    state.charts = {};
    charts.textContent = '';
    state.picked.forEach(drawChart);
    var link = document.getElementById('csv');
    link.href = '/api/csv?' + query({runs: runs.join(','),
                                     keys: state.picked.join(',')});
  }

  function refreshCharts() {
    Object.keys(state.charts).forEach(function (key) {
      var data = table(key);
      state.charts[key].chart.setData(data, state.zoom === null);
      state.charts[key].box.dataset.points = String(data[0].length);
    });
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

  function load(start, stop) {
    return fetchJSON('/api/series?' + query({runs: runs.join(','), start: start,
                                             stop: stop, points: POINTS}));
  }

  function zoom(start, stop) {
    // A range asked for again: the finer points of it.
    state.zoom = start === null ? null : [start, stop];
    load(start, stop).then(function (data) {
      state.data = data;
      refreshCharts();
      if (start !== null) {
        Object.keys(state.charts).forEach(function (key) {
          state.charts[key].chart.setScale('x', {min: start, max: stop - 1});
        });
      }
    });
  }

  function lastTime() {
    var last = -1;
    runs.forEach(function (uuid) {
      var run = state.data.runs[uuid];
      if (run.last_time !== null && run.last_time > last) { last = run.last_time; }
    });
    return last;
  }

  function poll() {
    // The iterations from the last shown on (its row may have grown), put
    // in place of what was shown of them; all again, downsampled, once a
    // chart would hold more than the server sends.
    if (state.zoom !== null) { return; }
    var since = lastTime();
    var request = since < 0 ? load(null, null) : load(since, null);
    request.then(function (fresh) {
      var added = 0, tooMany = false;
      runs.forEach(function (uuid) {
        var run = state.data.runs[uuid], more = fresh.runs[uuid];
        Object.keys(more.keys).forEach(function (key) {
          var points = run.keys[key] || [[], []];
          var keep = points[0].length;
          while (keep > 0 && points[0][keep - 1] >= since) { keep -= 1; }
          added += more.keys[key][0].length - (points[0].length - keep);
          points = [points[0].slice(0, keep).concat(more.keys[key][0]),
                    points[1].slice(0, keep).concat(more.keys[key][1])];
          run.keys[key] = points;
          tooMany = tooMany || points[0].length > 2 * POINTS;
        });
        run.epochs = more.epochs;
        run.iterations = more.iterations;
        if (more.last_time !== null) { run.last_time = more.last_time; }
      });
      document.getElementById('live').textContent =
        'updated ' + new Date().toLocaleTimeString();
      if (tooMany) { zoom(null, null); return; }
      if (!added) { return; }
      var newKeys = keysOf(state.data).filter(function (key) {
        return state.keys.indexOf(key) < 0;
      });
      if (newKeys.length) {
        state.keys = keysOf(state.data);
        state.picked = state.picked.concat(newKeys);
        drawKeyPicker();
        drawCharts();
      } else {
        refreshCharts();
      }
      drawRows();
    }).catch(function () {});
  }

  load(null, null).then(function (data) {
    state.data = data;
    state.keys = keysOf(data);
    state.picked = state.keys.slice(0, 6);
    drawKeyPicker();
    drawCharts();
    drawRows();
    app.dataset.ready = 'true';
    window.setInterval(poll, POLL_MS);
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
