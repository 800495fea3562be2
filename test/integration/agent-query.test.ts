/**
 * Custom SQL query probes against the host's real MariaDB and PostgreSQL (127.0.0.1, user berth),
 * run by a real `berth agent` process: the numbering-sequence utilisation of seed 002 under 90 %
 * is ok, above it fires (the value is in the webhook message), back under resolves. A query on a
 * missing table and a malformed query fail with the database's own error in the probe summary.
 * Each run makes its own scratch MariaDB database / PostgreSQL schema and drops it afterwards.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as mariadb from 'mariadb';
import pg from 'pg';
import { createTestProject, freePort, sleep, type TestProject } from './harness.js';
import { createWebhookReceiver, fastMonitorYaml, webhookNotifyYaml, waitFor, type WebhookReceiver } from './notify-harness.js';

const scratch = `bt_query_${randomBytes(4).toString('hex')}`;
const mariaUrl = `mariadb://berth:berth-test@127.0.0.1:3306/${scratch}`;
const pgUrl = 'postgres://berth:berth-test@127.0.0.1:5432/postgres';

// Seed 002, maintenance procedure 6.1: utilisation = current_value * 100 / max_value.
const tables = (schema: string) => `
  CREATE TABLE ${schema}.document_numbering_configs (id INT PRIMARY KEY, document_type VARCHAR(16) NOT NULL, max_value INT NOT NULL);
  CREATE TABLE ${schema}.document_numbering_sequences (id INT PRIMARY KEY, config_id INT NOT NULL, current_value INT NOT NULL);
  INSERT INTO ${schema}.document_numbering_configs VALUES (1, 'COR', 999999), (2, 'RFA', 9999);
  INSERT INTO ${schema}.document_numbering_sequences VALUES (1, 1, 120000), (2, 2, 4100);`;
const utilisation = (schema: string) =>
  `SELECT MAX(ROUND(ds.current_value * 100.0 / dc.max_value, 2)) FROM ${schema}.document_numbering_sequences ds JOIN ${schema}.document_numbering_configs dc ON ds.config_id = dc.id`;

interface ProbeOut {
  readonly id: string;
  readonly state: string;
  readonly value: number | null;
  readonly summary: string | null;
}

describe('query probes on real MariaDB and PostgreSQL, run by a real agent', () => {
  let p: TestProject;
  let hook: WebhookReceiver;
  let agent: ReturnType<TestProject['spawnBerth']> | undefined;
  let maria: mariadb.Connection;
  let pgc: pg.Client;

  const bodies = () => hook.accepted().map((r) => JSON.stringify(r.body));
  const probes = async (): Promise<ProbeOut[]> => {
    const r = await p.berth(['probes', '--json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as ProbeOut[];
  };
  const waitProbe = async (what: string, id: string, check: (x: ProbeOut) => boolean, timeoutMs = 20_000): Promise<ProbeOut> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const x = (await probes()).find((o) => o.id === id);
      if (x && check(x)) return x;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(x)}\n${agent?.output().slice(-2000)}`);
      await sleep(250);
    }
  };

  before(async () => {
    maria = await mariadb.createConnection({ host: '127.0.0.1', port: 3306, user: 'berth', password: 'berth-test', multipleStatements: true });
    await maria.query(`CREATE DATABASE ${scratch}`);
    await maria.query(tables(scratch));
    pgc = new pg.Client({ connectionString: pgUrl });
    await pgc.connect();
    await pgc.query(`CREATE SCHEMA ${scratch}; ${tables(scratch)}`);

    hook = await createWebhookReceiver();
    const listen = await freePort();
    p = await createTestProject({
      'compose.yaml': `
services:
  numbering:
    image: berth-test/app:v1
`,
      'berth.yaml': `
name: {{NAME}}
services:
  numbering:
    monitor: { container: false, stats: false }
${fastMonitorYaml(listen, 'probe')}  probes:
    seq-maria:
      type: query
      driver: mariadb
      url: "${mariaUrl}"
      sql: "${utilisation(scratch)}"
      condition: "value > 90"
      interval: 1s
      runbook: "seed 002 §6.1: raise max_value of the type approaching its limit"
    seq-pg:
      type: query
      driver: postgres
      url: "${pgUrl}"
      sql: "${utilisation(scratch)}"
      condition: "value > 90"
      interval: 1s
    missing-table:
      type: query
      driver: mariadb
      url: "${mariaUrl}"
      sql: "SELECT COUNT(*) FROM no_such_table"
      condition: "value > 0"
      interval: 1s
    bad-sql:
      type: query
      driver: postgres
      url: "${pgUrl}"
      sql: "SELEC 1"
      condition: "value > 0"
      interval: 1s
${webhookNotifyYaml(hook.url)}`,
    });
  });

  after(async () => {
    agent?.kill('SIGKILL');
    await p?.cleanup();
    await hook?.close();
    await maria?.query(`DROP DATABASE IF EXISTS ${scratch}`).catch(() => undefined);
    await maria?.end().catch(() => undefined);
    await pgc?.query(`DROP SCHEMA IF EXISTS ${scratch} CASCADE`).catch(() => undefined);
    await pgc?.end().catch(() => undefined);
  });

  it('ok under 90 %, fires with the value above it, resolves back under; query errors are clear probe failures', async () => {
    agent = p.spawnBerth(['agent']);
    await waitFor('the agent to start', () => agent!.output().includes('"agent started"'), 20_000);

    // 4100 / 9999 = 41 %: ok on both databases, with the value measured.
    for (const id of ['seq-maria', 'seq-pg']) {
      const x = await waitProbe(`${id} ok`, id, (o) => o.state === 'ok');
      assert.equal(x.value, 41, JSON.stringify(x));
    }
    // Errors name what went wrong, as the database said it.
    const missing = await waitProbe('missing-table failing', 'missing-table', (o) => o.state === 'failing');
    assert.equal(missing.summary, `query: mariadb 127.0.0.1:3306/${scratch}: Table '${scratch}.no_such_table' doesn't exist (error 1146)`);
    const bad = await waitProbe('bad-sql failing', 'bad-sql', (o) => o.state === 'failing');
    assert.equal(bad.summary, 'query: postgres 127.0.0.1:5432/postgres: syntax error at or near "SELEC" (SQLSTATE 42601)');
    assert.ok(!agent.output().includes('berth-test'), 'the password never reaches the log');
    await waitFor('the alerts of the broken queries', () => bodies().filter((b) => /firing/i.test(b)).length >= 2, 15_000);
    assert.ok(bodies().some((b) => /missing-table/.test(b) && /no_such_table/.test(b)), bodies().join('\n'));
    assert.ok(!bodies().some((b) => /seq-(maria|pg)/.test(b)), `no alert while under 90 %: ${bodies().join('\n')}`);

    // RFA reaches 9500 / 9999 = 95.01 %: both fire, with the value in the message.
    await maria.query(`UPDATE ${scratch}.document_numbering_sequences SET current_value = 9500 WHERE id = 2`);
    await pgc.query(`UPDATE ${scratch}.document_numbering_sequences SET current_value = 9500 WHERE id = 2`);
    await waitFor('both sequence alerts', () => ['seq-maria', 'seq-pg'].every((id) => bodies().some((b) => /firing/i.test(b) && b.includes(id))), 20_000);
    for (const id of ['seq-maria', 'seq-pg']) {
      const b = bodies().find((x) => /firing/i.test(x) && x.includes(id))!;
      assert.match(b, /value 95\.01 \(condition value > 90\)/, b);
    }
    assert.match(bodies().find((x) => x.includes('seq-maria'))!, /seed 002/, 'the runbook is in the message');

    // Back under: resolved, with the new value.
    await maria.query(`UPDATE ${scratch}.document_numbering_sequences SET current_value = 5000 WHERE id = 2`);
    await pgc.query(`UPDATE ${scratch}.document_numbering_sequences SET current_value = 5000 WHERE id = 2`);
    await waitFor('both resolves', () => ['seq-maria', 'seq-pg'].every((id) => bodies().some((b) => /resolved/i.test(b) && b.includes(id))), 20_000);
    for (const id of ['seq-maria', 'seq-pg']) {
      const b = bodies().find((x) => /resolved/i.test(x) && x.includes(id))!;
      assert.match(b, /value 50\.01/, b);
      assert.equal(bodies().filter((x) => /firing/i.test(x) && x.includes(id)).length, 1, 'one firing notice per probe');
    }
  });
});
