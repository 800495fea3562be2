import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderHaproxyConfig, renderRoutesOnly } from '../../../src/proxy/haproxy-config.js';
import { parseCsv } from '../../../src/proxy/haproxy-runtime.js';
import { project, service } from '../fixtures.js';

const web = service('web', { route: { hosts: ['Shop.Example'], port: 80 } });
const api = service('api', { route: { hosts: ['api.example', 'api2.example'], port: 3000 } });
const db = service('db');
const p = project([web, api, db], {
  edge: { image: 'x', listeners: [{ hostIp: '0.0.0.0', hostPort: 80 }, { hostIp: '127.0.0.1', hostPort: 8080, defaultService: 'web' }] },
});

describe('renderHaproxyConfig', () => {
  it('gives each routed service a backend with blue and green slots, the live one enabled', () => {
    const cfg = renderHaproxyConfig(p, { web: { active: 'green', slots: { green: { ip: '172.20.0.5', port: 80 } } } });
    assert.match(cfg, /backend be_web\n  balance roundrobin\n  server blue 127\.0\.0\.1:80 disabled\n  server green 172\.20\.0\.5:80\n/);
    assert.match(cfg, /backend be_api\n  balance roundrobin\n  server blue 127\.0\.0\.1:3000 disabled\n  server green 127\.0\.0\.1:3000 disabled\n/);
    assert.doesNotMatch(cfg, /be_db/);
  });

  it('routes host names case-insensitively on every listener, with a 404 backend or the port owner as default', () => {
    const cfg = renderHaproxyConfig(p, {});
    assert.match(cfg, /frontend fe_80\n  bind :80\n/);
    assert.match(cfg, /use_backend be_web if \{ var\(txn\.host\) -m str shop\.example \}/);
    assert.match(cfg, /use_backend be_api if \{ var\(txn\.host\) -m str api\.example api2\.example \}/);
    assert.match(cfg, /frontend fe_80[\s\S]*?default_backend be_no_route/);
    assert.match(cfg, /frontend fe_8080[\s\S]*?default_backend be_web/);
    assert.match(cfg, /stats socket \/var\/run\/haproxy\/admin\.sock mode 600 level admin expose-fd listeners/);
  });

  it('routes-only rendering ignores addresses (address changes never need a reload)', () => {
    const a = renderRoutesOnly(p);
    assert.equal(a, renderHaproxyConfig(p, {}));
    assert.notEqual(a, renderHaproxyConfig(p, { web: { active: 'blue', slots: { blue: { ip: '10.0.0.2', port: 80 } } } }));
  });
});

describe('parseCsv', () => {
  it('reads show stat output by header name', () => {
    const rows = parseCsv('# pxname,svname,qcur,qmax,scur\nbe_web,blue,0,0,3\nbe_web,green,0,0,0\n');
    assert.deepEqual(rows[0], { pxname: 'be_web', svname: 'blue', qcur: '0', qmax: '0', scur: '3' });
    assert.equal(rows.length, 2);
  });
});
