'use strict';
// redis-failover's read-only dashboard. Every value from the coordinator is placed with text nodes,
// never as markup: journal lines carry agents' words. Refreshes every two seconds.
(function () {
  const KEY = 'redis-failover-token';
  const SVG = 'http://www.w3.org/2000/svg';

  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value !== undefined && value !== null) node.setAttribute(name, String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function svg(tag, attributes, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, String(value));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function takeToken() {
    const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
    if (match) {
      sessionStorage.setItem(KEY, decodeURIComponent(match[1]));
      history.replaceState(null, '', location.pathname + location.search);
    }
    return sessionStorage.getItem(KEY);
  }

  class Refused extends Error {}

  async function api(path) {
    const response = await fetch(path, { headers: { Authorization: 'Bearer ' + sessionStorage.getItem(KEY) }, cache: 'no-store' });
    const body = await response.json().catch(() => ({ error: response.statusText }));
    if (response.status === 401 || response.status === 403) throw new Refused(body.error || 'refused');
    if (!response.ok) throw new Error(body.error || response.statusText);
    return body;
  }

  function showLogin(message) {
    const form = document.getElementById('login');
    document.getElementById('login-error').textContent = message || '';
    form.hidden = false;
  }

  function bytes(n) {
    if (n >= 1 << 30) return (n / (1 << 30)).toFixed(1) + ' GB';
    if (n >= 1 << 20) return (n / (1 << 20)).toFixed(1) + ' MB';
    if (n >= 1 << 10) return (n / (1 << 10)).toFixed(1) + ' KB';
    return n + ' B';
  }

  function time(iso) {
    return new Date(iso).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  }

  function role(node) {
    return node.role === 'master' ? 'primary' : node.role === 'slave' ? 'replica' : 'unknown';
  }

  function nodesTable(status) {
    const head = el('tr', null, ...['node', 'address', 'zone', 'role', 'agent', 'in sync', 'offset', 'verdict', 'version', 'memory', 'connections'].map(h => el('th', null, h)));
    const rows = status.nodes.map(node => {
      const usage = node.plan_usage;
      return el('tr', { 'data-node': node.node },
        el('td', null, node.node),
        el('td', null, node.address),
        el('td', null, node.zone),
        // A node whose agent is gone is shown as last reported, not as what it is now.
        node.connected ? el('td', { class: 'role-' + role(node) }, role(node)) : el('td', { class: 'muted' }, `unknown (last reported ${role(node)})`),
        el('td', { class: node.connected ? 'yes' : 'no' }, node.connected ? 'connected' : 'not connected'),
        el('td', null, node.node === status.primary ? '' : node.in_sync ? 'yes' : 'no'),
        el('td', null, node.replication_offset),
        el('td', null, node.local_verdict),
        el('td', null, node.redis_version),
        el('td', null, usage ? bytes(usage.used_memory_bytes) + (usage.memory_limit_bytes ? ' of ' + bytes(usage.memory_limit_bytes) : '') : ''),
        el('td', null, usage ? usage.active_connections + (usage.connection_limit ? ' of ' + usage.connection_limit : '') : ''));
    });
    return el('table', { class: 'nodes' }, el('thead', null, head), el('tbody', null, ...rows));
  }

  // A line chart of one use against its limit over time, with a mark wherever the primary changed.
  function chart(title, points, used, limit, format) {
    const width = 640, height = 200, left = 64, right = 12, top = 14, bottom = 26;
    const box = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title, 'data-points': points.length });
    if (points.length === 0) {
      box.append(svg('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle' }, 'no samples yet'));
      return el('figure', { class: 'chart' }, el('figcaption', null, title), box);
    }
    const times = points.map(p => Date.parse(p.at));
    const t0 = times[0], t1 = Math.max(times[times.length - 1], t0 + 1000);
    const top_ = Math.max(1, ...points.map(p => Math.max(used(p), limit(p)))) * 1.1;
    const x = t => left + (t - t0) / (t1 - t0) * (width - left - right);
    const y = v => top + (1 - v / top_) * (height - top - bottom);
    box.append(svg('line', { x1: left, y1: y(0), x2: width - right, y2: y(0), stroke: '#dde1ea' }));
    box.append(svg('text', { x: left - 6, y: y(top_ / 1.1) + 4, 'text-anchor': 'end' }, format(top_ / 1.1)));
    box.append(svg('text', { x: left - 6, y: y(0) + 4, 'text-anchor': 'end' }, format(0)));
    box.append(svg('text', { x: left, y: height - 6 }, time(points[0].at)));
    box.append(svg('text', { x: width - right, y: height - 6, 'text-anchor': 'end' }, time(points[points.length - 1].at)));
    const line = (value, cls) => svg('polyline', { class: cls, points: points.map((p, i) => `${x(times[i]).toFixed(1)},${y(value(p)).toFixed(1)}`).join(' ') });
    if (points.some(p => limit(p) > 0)) box.append(line(limit, 'limit'));
    box.append(line(used, 'used'));
    for (let i = 1; i < points.length; i++) {
      if (points[i].node !== points[i - 1].node) {
        box.append(svg('line', { class: 'switch', x1: x(times[i]), y1: top, x2: x(times[i]), y2: y(0) }));
        box.append(svg('text', { x: x(times[i]) + 4, y: top + 10 }, points[i].node));
      }
    }
    const last = points[points.length - 1];
    const caption = `${title}: ${format(used(last))}` + (limit(last) > 0 ? ` of ${format(limit(last))} (${last.plan})` : ` (${last.plan}, no limit)`) + ` on ${last.node}`;
    return el('figure', { class: 'chart' }, el('figcaption', null, caption), box);
  }

  function timeline(incidents) {
    if (incidents.length === 0) return el('p', { class: 'muted' }, 'No incident yet.');
    return el('ul', { class: 'timeline' }, ...incidents.slice().reverse().map(incident => el('li', { class: incident.outcome.replace(/ /g, '_') },
      el('details', null,
        el('summary', null, `${time(incident.opened)}  ${incident.outcome}  ${incident.entries.length ? incident.entries[0].text : ''}`),
        el('div', { class: 'entries' }, incident.entries.map(e => `${time(e.at)} term ${e.term} ${e.kind}: ${e.text}`).join('\n'))))));
  }

  function card(status, incidents, plan) {
    const title = el('div', { class: 'title' },
      el('h2', null, status.resource),
      el('span', { class: 'state ' + status.state }, status.state),
      el('span', null, `term ${status.term}`),
      el('span', null, status.primary ? `primary ${status.primary} (${status.primary_address})` : 'no primary known'),
      status.paused ? el('span', { class: 'error' }, 'automatic failover paused') : null);
    const blockers = status.failover_blockers.length
      ? el('ul', { class: 'blockers' }, ...status.failover_blockers.map(b => el('li', null, 'failover impossible now: ' + b)))
      : null;
    const points = plan.points;
    return el('section', { class: 'card', 'data-resource': status.resource, 'data-state': status.state, 'data-primary': status.primary },
      title,
      status.reason ? el('p', { class: 'muted' }, status.reason) : null,
      blockers,
      el('h3', null, 'Nodes'),
      nodesTable(status),
      el('h3', null, 'Plan limits (primary)'),
      el('div', { class: 'charts' },
        chart('Memory', points, p => p.used_memory_bytes, p => p.memory_limit_bytes, bytes),
        chart('Connections', points, p => p.active_connections, p => p.connection_limit, n => String(Math.round(n)))),
      el('h3', null, 'Incidents'),
      timeline(incidents));
  }

  async function refresh() {
    try {
      const statuses = await api('/api/status');
      const cards = await Promise.all(statuses.map(async status => {
        const [incidents, plan] = await Promise.all([
          api('/api/history/' + encodeURIComponent(status.resource)),
          api('/api/plan/' + encodeURIComponent(status.resource))]);
        return card(status, incidents, plan);
      }));
      document.getElementById('resources').replaceChildren(...cards);
      document.getElementById('login').hidden = true;
      document.getElementById('updated').textContent = 'updated ' + new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
      document.body.dataset.loaded = String((Number(document.body.dataset.loaded) || 0) + 1);
    } catch (error) {
      if (error instanceof Refused) {
        showLogin(error.message);
      } else {
        document.getElementById('updated').textContent = 'not updated: ' + error.message;
      }
    }
  }

  document.getElementById('login').addEventListener('submit', event => {
    event.preventDefault();
    sessionStorage.setItem(KEY, document.getElementById('token').value);
    document.getElementById('token').value = '';
    refresh();
  });

  if (takeToken()) refresh(); else showLogin('');
  setInterval(() => { if (sessionStorage.getItem(KEY)) refresh(); }, 2000);
})();
