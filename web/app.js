// AetherFlow's page (SPEC §13): the runs list, and a run's header, table,
// timeline, tokens and cost, live from Server-Sent Events; or, in a report,
// the same view from the data in the page. No library, nothing fetched
// from elsewhere.
'use strict';
(function () {
  const body = document.body;
  const page = body.dataset.page;
  const csrf = body.dataset.csrf;
  const $ = (id) => document.getElementById(id);
  const SVG = 'http://www.w3.org/2000/svg';

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function show(id) { $(id).hidden = false; }
  function daemonLost(lost) { $('daemon').hidden = !lost; }

  // --- Runs list -------------------------------------------------------
  function renderRuns(runs) {
    const tbody = $('runs').tBodies[0];
    tbody.replaceChildren();
    for (const r of runs) {
      const tr = el('tr', { 'data-run': r.id });
      const td = el('td');
      td.appendChild(el('a', { href: '/runs/' + encodeURIComponent(r.id) }, r.id));
      tr.appendChild(td);
      tr.appendChild(el('td', { class: 'state-' + r.state }, r.state_label));
      tr.appendChild(el('td', {}, r.progress));
      tr.appendChild(el('td', { class: 'num' }, r.elapsed));
      tr.appendChild(el('td', { class: 'num' }, r.cost));
      tr.appendChild(el('td', { class: 'desc' }, r.description));
      tbody.appendChild(tr);
    }
    $('no-runs').hidden = runs.length > 0;
  }

  function runsPage() {
    show('runs-page');
    const es = new EventSource('/api/runs/events');
    es.addEventListener('runs', (e) => { daemonLost(false); renderRuns(JSON.parse(e.data)); });
    es.addEventListener('daemon', () => daemonLost(true));
  }

  // --- One run ---------------------------------------------------------
  const runId = body.dataset.run;
  let view = null;
  let zoom = 1;
  let selected = null;
  let logSource = null;
  let report = false;
  const events = new Map();  // seq -> event: every one seen, none twice

  function renderHeader(run) {
    $('plan').textContent = run.plan || ('Run ' + run.id);
    $('run-id').textContent = run.id;
    const state = $('state');
    state.textContent = run.state_label;
    state.className = 'state state-' + run.state;
    $('progress-text').textContent = 'Progress: ' + run.completed + '/' + run.total +
        ' steps (' + run.percent.toFixed(1) + '%)';
    $('bar-fill').style.width = run.percent.toFixed(1) + '%';
    $('counts').textContent = run.counts.map((c) => c.name + ': ' + c.value).join(' | ');
    $('figures').textContent = 'Batch ' + run.batch + '  Elapsed: ' + run.elapsed +
        '  Tokens: ' + run.tokens + '  Cost: ' + run.cost;
    $('reason').hidden = !run.reason;
    $('reason').textContent = run.reason ? 'Reason: ' + run.reason : '';
    body.dataset.state = run.state;
    const live = !report;
    const finished = run.finished;
    $('pause').disabled = !live || finished || run.state === 'paused';
    $('resume').disabled = !live || !(run.state === 'paused' || (finished && run.state !== 'succeeded'));
    $('cancel').disabled = !live || finished;
  }

  const colClass = ['col-step', 'col-type', 'col-provider', 'col-status', 'col-time num',
                    'col-tokens num', 'col-cost num', 'col-desc desc'];
  function renderTable(v) {
    const head = $('steps').tHead.rows[0];
    if (!head.cells.length) {
      v.columns.forEach((c, i) => head.appendChild(el('th', { class: colClass[i] }, c)));
    }
    const tbody = $('steps').tBodies[0];
    // Rows are kept and updated in place, so a selection and the scroll
    // stay put while the run goes on.
    while (tbody.rows.length > v.steps.length) tbody.deleteRow(-1);
    v.steps.forEach((s, i) => {
      let tr = tbody.rows[i];
      if (!tr) {
        tr = tbody.insertRow(-1);
        for (let c = 0; c < v.columns.length; ++c) tr.insertCell(-1);
      }
      tr.dataset.step = s.id;
      tr.dataset.state = s.state;
      tr.classList.toggle('selected', s.id === selected);
      s.cells.forEach((text, c) => {
        const td = tr.cells[c];
        if (td.textContent !== text) td.textContent = text;
        td.className = colClass[c] + (c === 3 ? ' s-' + s.style : '');
      });
    });
  }

  function timeLabel(ms) {
    const s = ms / 1000;
    if (s < 60) return (Math.round(s * 10) / 10) + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm' + String(Math.round(s % 60)).padStart(2, '0');
    return Math.floor(s / 3600) + 'h' + String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  }
  function ticks(span, width) {
    const steps = [100, 250, 500, 1e3, 2e3, 5e3, 1e4, 3e4, 6e4, 3e5, 6e5, 18e5, 36e5, 72e5];
    const want = span / Math.max(2, width / 90);
    return steps.find((s) => s >= want) || 144e5;
  }

  function renderTimeline(t) {
    const box = $('timeline');
    const lanes = Math.max(1, t.lanes);
    const laneH = 22, top = 18, left = 58;
    const base = Math.max(300, box.clientWidth - 2);
    const width = Math.round(base * zoom);
    const span = Math.max(1, t.end_ms - t.start_ms);
    const x = (ms) => left + (ms - t.start_ms) / span * (width - left - 8);
    const s = svg('svg', { width: width, height: top + lanes * laneH + 6,
                           role: 'img', 'aria-label': 'timeline, one lane per parallel slot' });
    for (let l = 1; l <= lanes; ++l) {
      const y = top + (l - 1) * laneH;
      s.appendChild(svg('rect', { class: 'lane', x: left, y: y + 1, width: width - left - 8,
                                  height: laneH - 2, 'data-lane': l }));
      s.appendChild(svg('text', { x: 4, y: y + 15 }, 'slot ' + l));
    }
    const tick = ticks(span, width);
    for (let ms = 0; ms <= span; ms += tick) {
      s.appendChild(svg('line', { class: 'grid', x1: x(ms), x2: x(ms), y1: 12,
                                  y2: top + lanes * laneH }));
      s.appendChild(svg('text', { x: x(ms) + 2, y: 11 }, timeLabel(ms)));
    }
    for (const a of t.attempts) {
      const y = top + (a.lane - 1) * laneH;
      const x0 = x(a.start_ms), w = Math.max(2, x(a.end_ms) - x0);
      const r = svg('rect', { class: 'a a-' + a.state, x: x0, y: y + 3, width: w,
                              height: laneH - 6, rx: 2, 'data-step': a.step,
                              'data-lane': a.lane, 'data-state': a.state });
      r.appendChild(svg('title', {}, a.step + ' (attempt ' + a.attempt + ', ' + a.state +
                                     ', ' + timeLabel(a.end_ms - a.start_ms) + ')'));
      r.addEventListener('click', () => openLog(a.step));
      s.appendChild(r);
      if (w > 40) {
        s.appendChild(svg('text', { class: 'in', x: x0 + 4, y: y + 15 },
                          a.step.length * 6.5 > w - 6 ? a.step.slice(0, Math.max(1, Math.floor((w - 6) / 6.5))) : a.step));
      }
    }
    box.replaceChildren(s);
    box.dataset.lanes = t.lanes;
  }

  function renderSeries(series, t) {
    const box = $('series');
    const width = Math.max(300, box.clientWidth - 2), height = 150, left = 58, right = 58;
    const s = svg('svg', { width: width, height: height, role: 'img',
                           'aria-label': 'tokens and cost over time' });
    const span = Math.max(1, t.end_ms - t.start_ms);
    const maxTokens = Math.max(1, ...series.map((p) => p.tokens));
    const costs = series.filter((p) => p.cost !== null);
    const maxCost = Math.max(1e-9, ...costs.map((p) => p.cost));
    const x = (ms) => left + ms / span * (width - left - right);
    const y = (v, max) => height - 20 - v / max * (height - 40);
    if (!series.length) {
      s.appendChild(svg('text', { x: left, y: 80 }, 'No tokens used (no LLM step has reported any).'));
    } else {
      const line = (points, cls, max, key) => {
        let d = 'M' + x(0) + ',' + y(0, max);
        let last = 0;
        for (const p of points) {
          d += ' L' + x(p.t_ms) + ',' + y(last, max) + ' L' + x(p.t_ms) + ',' + y(p[key], max);
          last = p[key];
        }
        d += ' L' + x(span) + ',' + y(last, max);
        s.appendChild(svg('path', { class: cls, d: d }));
      };
      line(series, 'tokens', maxTokens, 'tokens');
      if (costs.length) line(costs, 'cost', maxCost, 'cost');
      s.appendChild(svg('text', { x: 4, y: 14, class: 'legend-tokens' },
                        maxTokens.toLocaleString() + ' tokens'));
      if (costs.length) {
        s.appendChild(svg('text', { x: width - right + 4, y: 14, class: 'legend-cost' },
                          '$' + maxCost.toFixed(4)));
      }
    }
    s.appendChild(svg('text', { x: left, y: height - 4 }, '0'));
    s.appendChild(svg('text', { x: width - right - 30, y: height - 4 }, timeLabel(span)));
    box.replaceChildren(s);
  }

  function render(msg) {
    view = msg.view;
    body.dataset.seq = msg.seq;
    for (const e of msg.events || []) events.set(e.seq, e);
    body.dataset.events = events.size;
    daemonLost(!msg.connected);
    renderHeader(view.run);
    renderTable(view);
    renderTimeline(view.timeline);
    renderSeries(view.series, view.timeline);
  }

  function flash(text, error) {
    const f = $('flash');
    f.textContent = text;
    f.hidden = !text;
    f.classList.toggle('error', !!error);
  }

  function act(what) {
    fetch('/api/runs/' + encodeURIComponent(runId) + '/' + what, {
      method: 'POST', headers: { 'X-CSRF-Token': csrf }, credentials: 'same-origin',
    }).then((r) => r.json().then((j) => {
      flash(j.message, !j.ok);
      if (j.ok && what === 'resume') follow();
    }))
      .catch(() => flash('the page cannot reach aetherflow web', true));
  }

  function openLog(step) {
    selected = step;
    if (view) renderTable(view);
    show('log');
    $('log-step').textContent = step;
    const pre = $('log-text');
    pre.textContent = '';
    if (logSource) logSource.close();
    logSource = null;
    if (report) {
      $('log-state').textContent = 'logs are not part of a report: aetherflow logs ' + runId + ' ' + step;
      return;
    }
    $('log-state').textContent = 'following…';
    const src = new EventSource('/api/runs/' + encodeURIComponent(runId) + '/log?step=' +
                                encodeURIComponent(step));
    logSource = src;
    src.addEventListener('log', (e) => {
      const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.textContent += JSON.parse(e.data);
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    });
    src.addEventListener('end', () => {
      src.close();
      if (logSource === src) $('log-state').textContent = 'the step has ended';
    });
  }

  function runPage() {
    show('run-page');
    $('steps').tBodies[0].addEventListener('click', (e) => {
      const tr = e.target.closest('tr');
      if (tr && tr.dataset.step) openLog(tr.dataset.step);
    });
    $('log-close').addEventListener('click', () => {
      if (logSource) logSource.close();
      logSource = null;
      selected = null;
      $('log').hidden = true;
      if (view) renderTable(view);
    });
    const redraw = () => { if (view) renderTimeline(view.timeline); };
    $('zoom-in').addEventListener('click', () => { zoom = Math.min(64, zoom * 2); redraw(); });
    $('zoom-out').addEventListener('click', () => { zoom = Math.max(1, zoom / 2); redraw(); });
    $('zoom-reset').addEventListener('click', () => { zoom = 1; redraw(); });
    $('timeline').addEventListener('wheel', (e) => {
      if (!e.ctrlKey) return;  // ctrl + wheel (or a pinch) zooms
      e.preventDefault();
      zoom = Math.min(64, Math.max(1, zoom * (e.deltaY < 0 ? 1.25 : 0.8)));
      redraw();
    }, { passive: false });
    window.addEventListener('resize', () => { if (view) { renderTimeline(view.timeline); renderSeries(view.series, view.timeline); } });

    const data = $('af-data');
    if (data) {  // a report: everything is in the page
      report = true;
      body.classList.add('report');
      render(JSON.parse(data.textContent));
      return;
    }
    $('pause').addEventListener('click', () => act('pause'));
    $('resume').addEventListener('click', () => act('resume'));
    let armed = null;
    $('cancel').addEventListener('click', () => {
      if (!armed) {  // the second click within 4 s cancels
        $('cancel').textContent = 'Cancel the run?';
        armed = setTimeout(() => { armed = null; $('cancel').textContent = 'Cancel'; }, 4000);
        return;
      }
      clearTimeout(armed);
      armed = null;
      $('cancel').textContent = 'Cancel';
      act('cancel');
    });
    follow();
  }

  // EventSource reconnects by itself and sends Last-Event-ID: the web
  // process answers with what was missed, so nothing is lost. A run that
  // ended closes the stream; a resume opens it again from where it was.
  let source = null;
  function follow() {
    if (source && source.readyState !== EventSource.CLOSED) return;
    const after = body.dataset.seq ? '?after=' + body.dataset.seq : '';
    const es = new EventSource('/api/runs/' + encodeURIComponent(runId) + '/events' + after);
    source = es;
    es.addEventListener('view', (e) => {
      const msg = JSON.parse(e.data);
      render(msg);
      if (msg.ended) es.close();  // the run is over: nothing more will come
    });
    es.addEventListener('error', () => { if (es.readyState !== EventSource.CLOSED) daemonLost(true); });
  }

  if (page === 'runs') runsPage();
  else if (page === 'run') runPage();
  else if (page === 'login') show('login-page');
  else show('error-page');
})();
