/** `services.<name>.backup` merged with `backup.sources` and the detected defaults, through loadProject. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { sourceRetention } from '../../../src/project/backup-schema.js';
import { describeRetention, keepArgs, resolveRetention } from '../../../src/project/retention-schema.js';
import { load, loadError, yaml } from './helpers.js';

const compose = yaml(
  'services:',
  '  db:',
  '    image: mariadb:11',
  '    environment: { MARIADB_DATABASE: shop, MARIADB_ROOT_PASSWORD: x }',
  '    volumes: ["dbdata:/var/lib/mysql"]',
  '  pg:',
  '    image: postgres:16',
  '    environment: { POSTGRES_DB: orders }',
  '  cache:',
  '    image: redis:7',
  '    volumes: ["cachedata:/data"]',
  '  web:',
  '    image: nginx',
  '    volumes: ["uploads:/u", "tmpfiles:/t"]',
  'volumes:',
  '  dbdata: {}',
  '  cachedata: {}',
  '  uploads: {}',
  '  tmpfiles: {}',
);

const names = async (berth: string) => Object.keys((await load({ 'compose.yaml': compose, 'berth.yaml': berth })).backup!.sources);

describe('per-service backup sources', () => {
  it('detection alone: databases from images, every other named volume', async () => {
    assert.deepEqual(await names(yaml('backup:', '  repository: repo')), ['db', 'pg', 'cache', 'uploads', 'tmpfiles']);
  });

  it('`backup: false` leaves a service and its volumes out of detection', async () => {
    const berth = yaml('backup:', '  repository: repo', 'services:', '  cache:', '    backup: false', '  web:', '    backup: false');
    assert.deepEqual(await names(berth), ['db', 'pg']);
  });

  it('a mapping replaces the detected source of that service; its volumes are the listed ones only', async () => {
    const berth = yaml(
      'backup:',
      '  repository: repo',
      'services:',
      '  db:',
      '    backup: { database: other, user: app, password_env: DB_PW, writers: [web] }',
      '  web:',
      '    backup: { volumes: [uploads] }',
    );
    const p = await load({ 'compose.yaml': compose, 'berth.yaml': berth });
    const s = p.backup!.sources;
    assert.deepEqual(Object.keys(s), ['pg', 'cache', 'db', 'uploads']);
    assert.deepEqual(s.db, { name: 'db', type: 'mariadb', service: 'db', host: '127.0.0.1', user: 'app', password: { env: 'DB_PW' }, database: 'other', writers: ['web'], includeEnv: false });
    assert.deepEqual(s.uploads, { name: 'uploads', type: 'volume', volume: 'uploads', host: '127.0.0.1', includeEnv: false });
  });

  it('with backup.sources: only those, plus per-service declarations in berth.yaml order; `true` adds the detected default', async () => {
    const berth = yaml(
      'backup:',
      '  repository: repo',
      '  sources:',
      '    files: { type: volume, volume: tmpfiles }',
      'services:',
      '  pg:',
      '    backup: true',
      '  db:',
      '    backup: { name: maindb, password_file: secrets/db.pass }',
    );
    const p = await load({ 'compose.yaml': compose, 'berth.yaml': berth });
    const s = p.backup!.sources;
    assert.deepEqual(Object.keys(s), ['files', 'pg', 'maindb']);
    assert.deepEqual(s.pg, { name: 'pg', type: 'postgres', service: 'pg', host: '127.0.0.1', database: 'orders', includeEnv: false });
    assert.equal(s.maindb!.database, 'shop');
    assert.deepEqual(s.maindb!.password, { file: path.join(p.dir, 'secrets/db.pass') });
  });

  it('an explicit type on a service whose image is not recognised', async () => {
    const c = yaml('services:', '  store:', '    image: registry.example/custom-db:3');
    const p = await load({ 'compose.yaml': c, 'berth.yaml': yaml('backup:', '  repository: repo', 'services:', '  store:', '    backup: { type: postgres, database: app }') });
    assert.deepEqual(p.backup!.sources.store, { name: 'store', type: 'postgres', service: 'store', host: '127.0.0.1', database: 'app', includeEnv: false });
  });

  it('a duplicate source name names both places', async () => {
    const berth = yaml('backup:', '  repository: repo', '  sources:', '    db: { type: volume, volume: dbdata }', 'services:', '  db:', '    backup: true');
    assert.equal(
      await loadError({ 'compose.yaml': compose, 'berth.yaml': berth }),
      'berth.yaml:7:5 services.db.backup: backup source name `db` is used twice; rename one (per-service sources take `name:`) (also at berth.yaml:4:5)',
    );
  });

  it('a per-service name that clashes with a detected source', async () => {
    const berth = yaml('backup:', '  repository: repo', 'services:', '  web:', '    backup: { volumes: [uploads] }', '  pg:', '    backup: { name: db }');
    assert.match(await loadError({ 'compose.yaml': compose, 'berth.yaml': berth }), /^berth\.yaml:7:5 services\.pg\.backup: backup source name `db` is used twice.*\(also detected from the image of service db\)$/);
  });

  it('a detected volume steps aside for a declared name', async () => {
    const c = yaml('services:', '  db:', '    image: mariadb', '    environment: { MARIADB_DATABASE: a }', '  web:', '    image: nginx', '    volumes: ["db:/x"]', 'volumes:', '  db: {}');
    const berth = yaml('backup:', '  repository: repo', 'services:', '  db:', '    backup: { user: root }');
    const p = await load({ 'compose.yaml': c, 'berth.yaml': berth });
    assert.deepEqual(Object.keys(p.backup!.sources), ['db-volume', 'db']);
  });

  it('`config` is the project config\'s own source: per-service defaults step aside, a declared name is refused', async () => {
    const c = yaml('services:', '  config:', '    image: redis:7', '    volumes: ["config:/data"]', '  web:', '    image: nginx', '    volumes: ["config:/etc/app"]', 'volumes:', '  config: {}');
    const per = yaml('backup:', '  repository: repo', '  sources: {}', 'services:', '  config:', '    backup: { type: redis }', '  web:', '    backup: { volumes: [config] }');
    assert.deepEqual(Object.keys((await load({ 'compose.yaml': c, 'berth.yaml': per })).backup!.sources), ['config-redis', 'config-volume']);
    assert.equal(
      await loadError({ 'compose.yaml': c, 'berth.yaml': yaml('backup:', '  repository: repo', 'services:', '  web:', '    backup: { name: config, type: redis }') }),
      'berth.yaml:5:5 services.web.backup: `config` names the project\'s own config source (type: config), which berth adds by itself; give this redis source another name',
    );
    assert.match(
      await loadError({ 'compose.yaml': c, 'berth.yaml': yaml('backup:', '  repository: repo', '  sources:', '    config: { type: volume, volume: config }') }),
      /^berth\.yaml:4:\d+ backup\.sources\.config: `config` names the project's own config source/,
    );
  });

  it('an unknown service, a volume the service does not mount, nothing to detect, no backup section: file:line each', async () => {
    const berth = yaml('backup:', '  repository: repo', 'services:', '  api:', '    backup: true', '  web:', '    backup: { volumes: [uploads, dbdata] }', '  pg:', '    backup: { type: mariadb }');
    assert.equal(
      await loadError({ 'compose.yaml': compose, 'berth.yaml': berth }),
      [
        'berth.yaml:4:3 services.api: berth.yaml has settings for unknown service `api`; services are: db, pg, cache, web',
        'berth.yaml:7:34 services.web.backup.volumes[1]: `dbdata` is not a named volume of service `web`; its named volumes are: uploads, tmpfiles',
        'berth.yaml:9:5 services.pg.backup: a mariadb source needs `database` (none found in the service\'s environment)',
      ].join('\n'),
    );
    const c = yaml('services:', '  web:', '    image: nginx');
    assert.equal(
      await loadError({ 'compose.yaml': c, 'berth.yaml': yaml('backup:', '  repository: repo', 'services:', '  web:', '    backup: true') }),
      'berth.yaml:5:5 services.web.backup: nothing to detect for service `web`: its image nginx is no known database and it mounts no named volume; give `type:` and `database:`, or `volumes:`',
    );
    assert.equal(
      await loadError({ 'compose.yaml': compose, 'berth.yaml': yaml('services:', '  db:', '    backup: true') }),
      'berth.yaml:3:5 services.db.backup: backs up into the repository of the top-level `backup:` section, which is missing; add `backup: { repository: PATH }`',
    );
  });

  it('a wrong kind of value is a schema error at its line', async () => {
    const berth = yaml('backup:', '  repository: repo', 'services:', '  db:', '    backup: { type: mongodb }');
    assert.match(await loadError({ 'compose.yaml': compose, 'berth.yaml': berth }), /^berth\.yaml:5:\d+ services\.db\.backup\.type: /);
    assert.match(await loadError({ 'compose.yaml': compose, 'berth.yaml': yaml('backup:', '  repository: repo', 'services:', '  db:', '    backup: yes-please') }), /^berth\.yaml:5:\d+ services\.db\.backup: should be true, false or a mapping/);
  });

  it('a per-service volume can leave paths out, as a volume source in backup.sources does', async () => {
    const berth = yaml('backup:', '  repository: repo', 'services:', '  web:', '    backup: { volumes: [{ volume: uploads, exclude: [cache, "*.tmp", /thumbs/, cache] }, tmpfiles] }');
    const s = (await load({ 'compose.yaml': compose, 'berth.yaml': berth })).backup!.sources;
    assert.deepEqual(s.uploads, { name: 'uploads', type: 'volume', volume: 'uploads', host: '127.0.0.1', exclude: ['cache', '*.tmp', '/thumbs'], includeEnv: false });
    assert.deepEqual(s.tmpfiles, { name: 'tmpfiles', type: 'volume', volume: 'tmpfiles', host: '127.0.0.1', includeEnv: false });
    const wrong = (entry: string, repository = 'repo') => loadError({ 'compose.yaml': compose, 'berth.yaml': yaml('backup:', `  repository: ${repository}`, 'services:', '  web:', `    backup: { volumes: [${entry}] }`) });
    assert.match(await wrong('{ volume: uploads, exclude: ["a/**"] }'), /^berth\.yaml:5:\d+ services\.web\.backup\.volumes\[0\]\.exclude\[0\]: "a\/\*\*": "\*\*" is not supported/);
    assert.match(await wrong('{ volume: uploads, exclude: [cache] }', 'sftp:b@host:/r'), /^berth\.yaml:5:\d+ services\.web\.backup\.volumes\[0\]\.exclude: cannot apply with an sftp repository/);
    assert.match(await wrong('{ volume: dbdata, exclude: [cache] }'), /^berth\.yaml:5:\d+ services\.web\.backup\.volumes\[0\]: `dbdata` is not a named volume of service `web`/);
    assert.match(await wrong('{ exclude: [cache] }'), /^berth\.yaml:5:\d+ services\.web\.backup\.volumes\[0\]\.volume: /);
    assert.match(await wrong('{ volume: uploads, exlude: [cache] }'), /^berth\.yaml:5:\d+ services\.web\.backup\.volumes\[0\]\.exlude: /);
    assert.match(await wrong('7'), /^berth\.yaml:5:\d+ services\.web\.backup\.volumes\[0\]: should be a named volume of the service, or a mapping/);
  });

  it('a per-service database source can name the tables it backs up; a service without a database cannot', async () => {
    const berth = yaml('backup:', '  repository: repo', 'services:', '  db:', '    backup: { tables: [seq, audit_log, seq] }', '  pg:', '    backup: { tables: [items, billing.invoices] }');
    const s = (await load({ 'compose.yaml': compose, 'berth.yaml': berth })).backup!.sources;
    assert.deepEqual(s.db!.tables, ['seq', 'audit_log'], 'each name once');
    assert.deepEqual(s.pg!.tables, ['public.items', 'billing.invoices'], 'PostgreSQL names qualified, public by default');
    const wrong = (service: string, value: string) => loadError({ 'compose.yaml': compose, 'berth.yaml': yaml('backup:', '  repository: repo', 'services:', `  ${service}:`, `    backup: ${value}`) });
    assert.match(await wrong('cache', '{ tables: [k] }'), /^berth\.yaml:5:\d+ services\.cache\.backup\.tables: applies to a mariadb, mysql, postgres source only, not redis$/);
    assert.match(await wrong('web', '{ tables: [t], volumes: [uploads] }'), /^berth\.yaml:5:\d+ services\.web\.backup\.tables: service `web` \(image nginx\) is no database berth recognises; give `type:` \(mariadb, mysql, postgres\) with `tables`$/);
    assert.match(await wrong('db', '{ tables: [shop.seq] }'), /^berth\.yaml:5:\d+ services\.db\.backup\.tables: "shop\.seq": name a table of `database` without a database in front/);
  });

  it('a per-service schedule is the schedule of the service\'s database source and of its volumes', async () => {
    const berth = yaml('backup:', '  repository: repo', 'services:', '  db:', '    backup: { schedule: "*/15 * * * *" }', '  web:', '    backup: { volumes: [uploads], schedule: "0 * * * *" }');
    const s = (await load({ 'compose.yaml': compose, 'berth.yaml': berth })).backup!.sources;
    assert.deepEqual([s.db!.schedule, s.uploads!.schedule, s.pg!.schedule], ['*/15 * * * *', '0 * * * *', undefined]);
  });

  it("a source's own retention goes over backup.retention, key by key; a service's is its volumes' too", async () => {
    const berth = yaml(
      'backup:',
      '  repository: repo',
      '  retention: { daily: 14, within: 30d }',
      '  sources:',
      '    numbering: { type: mariadb, host: 10.0.0.5, database: shop, tables: [seq], schedule: "*/15 * * * *", retention: { hourly: 48, within: 1d12h } }',
      '    files: { type: volume, volume: uploads }',
      'services:',
      '  web:',
      '    backup: { volumes: [tmpfiles], retention: { monthly: 0 } }',
    );
    const cfg = (await load({ 'compose.yaml': compose, 'berth.yaml': berth })).backup!;
    const policy = (name: string) => sourceRetention(cfg, cfg.sources[name]!);
    assert.deepEqual(cfg.retention, { daily: 14, weekly: 4, monthly: 12, withinMs: 30 * 86_400_000 });
    assert.equal(describeRetention(cfg.retention), 'keep-daily 14, weekly 4, monthly 12, all within 30d', 'whole days said as days');
    assert.deepEqual(policy('numbering'), { daily: 14, weekly: 4, monthly: 12, hourly: 48, withinMs: 36 * 3_600_000 });
    assert.deepEqual(policy('files'), cfg.retention, 'none of its own');
    assert.deepEqual(policy('tmpfiles'), { daily: 14, weekly: 4, monthly: 0, withinMs: 30 * 86_400_000 });
    assert.equal(describeRetention(policy('numbering')), 'keep-hourly 48, daily 14, weekly 4, monthly 12, all within 36h');
    assert.deepEqual(keepArgs(policy('numbering')), ['--keep-hourly', '48', '--keep-daily', '14', '--keep-weekly', '4', '--keep-monthly', '12', '--keep-within', '36h']);
    assert.deepEqual(keepArgs(resolveRetention(undefined)), ['--keep-daily', '7', '--keep-weekly', '4', '--keep-monthly', '12'], 'the defaults, as before');
  });

  it('retention refusals: within in whole hours, a policy that keeps nothing, a misspelt key', async () => {
    const wrong = (retention: string) => loadError({ 'compose.yaml': compose, 'berth.yaml': yaml('backup:', '  repository: repo', '  sources:', `    files: { type: volume, volume: uploads, retention: ${retention} }`) });
    assert.match(await wrong('{ within: 90m }'), /^berth\.yaml:4:\d+ backup\.sources\.files\.retention\.within: should be whole hours, at least 1h, like "30d" or "48h" \(restic keeps by the hour\)$/);
    assert.match(await wrong('{ within: 30m }'), /retention\.within: should be whole hours/);
    assert.match(await wrong('{ within: 720 }'), /retention\.within: should be a span like "30d" or "48h"/);
    assert.match(await wrong('{ daily: 0, weekly: 0, monthly: 0 }'), /retention: keeps no snapshot at all .*keep at least one hourly, daily, weekly or monthly, or those `within` a time$/);
    assert.match(await wrong('{ keep_hourly: 24 }'), /retention\.keep_hourly: unsupported key `keep_hourly`: did you mean `hourly`\?$/);
    const kept = (await load({ 'compose.yaml': compose, 'berth.yaml': yaml('backup:', '  repository: repo', '  sources:', '    files: { type: volume, volume: uploads, retention: { daily: 0, weekly: 0, monthly: 0, within: 48h } }') })).backup!;
    assert.deepEqual(sourceRetention(kept, kept.sources.files!), { daily: 0, weekly: 0, monthly: 0, withinMs: 48 * 3_600_000 }, 'only what is within 48h: a policy');
  });

  it('backup.ssh: resolved for an sftp repository, refused for a local one', async () => {
    const p = await load({ 'compose.yaml': compose, 'berth.yaml': yaml('backup:', '  repository: sftp:bk@10.0.0.2:/srv/repo', '  ssh: { port: 2222, identity_file: keys/id, known_hosts: kh }') });
    assert.deepEqual(p.backup!.ssh, { port: 2222, identityFile: path.join(p.dir, 'keys/id'), knownHosts: path.join(p.dir, 'kh') });
    assert.equal(p.backup!.repository, 'sftp:bk@10.0.0.2:/srv/repo');
    assert.equal(await loadError({ 'compose.yaml': compose, 'berth.yaml': yaml('backup:', '  repository: repo', '  ssh: { port: 2222 }') }), 'berth.yaml:3:8 backup.ssh: applies to an sftp: repository only');
  });
});
