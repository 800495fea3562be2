/**
 * A database inside its service container: the dump runs through `docker exec` (BGSAVE, then a
 * tar of RDB + AOF made in the container), the drill loads it into a scratch redis-server, and
 * the restore stops the service, writes its /data through a helper container and starts it again.
 * The same for PostgreSQL: pg_dump in the container, the drill in a scratch database of that
 * server, the restore with the services depending on it stopped.
 * The images are made here from this host's binaries with `docker import` (no registry).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestProject, type TestProject } from './harness.js';
import { createResticRepository } from './restic-repo.js';

const image = 'berth-test/redis:local';
const buildImage = `
set -eu
r=$(mktemp -d)
files="/usr/bin/redis-check-rdb /usr/bin/redis-cli $(ldd /usr/bin/redis-check-rdb /usr/bin/redis-cli | awk '/=>/ {print $3} /^[[:space:]]+\\// {print $1}' | sort -u)"
for f in $files; do mkdir -p "$r$(dirname "$f")"; cp -L "$f" "$r$f"; done
ln -s redis-check-rdb "$r/usr/bin/redis-server"
mkdir -p "$r/bin" "$r/data" "$r/tmp"
cp /bin/busybox "$r/bin/busybox"
for a in sh tar cat ls rm; do ln -s busybox "$r/bin/$a"; done
tar -C "$r" -c . | docker import --change 'ENV PATH=/usr/bin:/bin' --change 'WORKDIR /data' \\
  --change 'CMD ["redis-server", "--dir", "/data", "--appendonly", "yes", "--protected-mode", "no"]' - ${image} >/dev/null
rm -rf "$r"
`;

const pgImage = 'berth-test/postgres:local';
/** PostgreSQL 15 from this host's binaries, with an entrypoint like the official image's (POSTGRES_PASSWORD, POSTGRES_DB). */
const buildPgImage = `
set -eu
r=$(mktemp -d)
bin=/usr/lib/postgresql/15/bin
bins="$bin/postgres $bin/initdb $bin/pg_ctl $bin/psql $bin/pg_dump $bin/pg_dumpall $bin/pg_restore"
files="$bins $(ldd $bins | awk '/=>/ {print $3} /^[[:space:]]+\\// {print $1}' | sort -u)"
for f in $files; do mkdir -p "$r$(dirname "$f")"; cp -L "$f" "$r$f"; done
mkdir -p "$r/usr/share/postgresql" "$r/usr/share/zoneinfo" "$r/bin" "$r/etc" "$r/tmp" "$r/var/run/postgresql" "$r/var/lib/postgresql/data"
cp -a /usr/share/postgresql/15 "$r/usr/share/postgresql/"
cp -a /usr/lib/postgresql/15/lib "$r/usr/lib/postgresql/15/"
cp -a /usr/share/zoneinfo/UTC /usr/share/zoneinfo/Etc "$r/usr/share/zoneinfo/" 2>/dev/null || true
cp /bin/busybox "$r/bin/busybox"
for a in sh cat ls rm mkdir chown su env id; do ln -s busybox "$r/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\\npostgres:x:999:999:postgres:/var/lib/postgresql:/bin/sh\\n' >"$r/etc/passwd"
printf 'root:x:0:\\npostgres:x:999:\\n' >"$r/etc/group"
cat >"$r/entrypoint.sh" <<'SH'
#!/bin/sh
set -e
D=/var/lib/postgresql/data
chown -R 999:999 "$D" /var/run/postgresql
if [ ! -s "$D/PG_VERSION" ]; then
  echo "$POSTGRES_PASSWORD" > /tmp/pw; chown 999 /tmp/pw
  su postgres -c "/usr/lib/postgresql/15/bin/initdb -D $D -U \${POSTGRES_USER:-postgres} --pwfile=/tmp/pw --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C" >/dev/null
  rm /tmp/pw
  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$D/pg_hba.conf"
  if [ -n "\${POSTGRES_DB:-}" ]; then
    su postgres -c "/usr/lib/postgresql/15/bin/postgres --single -j -D $D postgres" <<SQL >/dev/null
CREATE DATABASE "$POSTGRES_DB";
SQL
  fi
fi
exec su postgres -c "exec /usr/lib/postgresql/15/bin/postgres -D $D -c listen_addresses=* -c unix_socket_directories=/var/run/postgresql"
SH
chmod 755 "$r/entrypoint.sh"
tar -C "$r" -c . | docker import --change 'ENV PATH=/usr/lib/postgresql/15/bin:/bin' --change 'ENV TZ=UTC' --change 'CMD ["/entrypoint.sh"]' - ${pgImage} >/dev/null
rm -rf "$r"
`;

const mariaImage = 'berth-test/mariadb:local';
/** MariaDB from this host's binaries, with an entrypoint like the official image's (MARIADB_ROOT_PASSWORD, MARIADB_DATABASE). */
const buildMariaImage = `
set -eu
r=$(mktemp -d)
bins="/usr/sbin/mariadbd /usr/bin/mariadb /usr/bin/mariadb-dump /usr/bin/my_print_defaults /usr/bin/resolveip"
files="$bins $(ldd $bins | awk '/=>/ {print $3} /^[[:space:]]+\\// {print $1}' | sort -u)"
for f in $files; do mkdir -p "$r$(dirname "$f")"; cp -L "$f" "$r$f"; done
cp /usr/bin/mariadb-install-db "$r/usr/bin/"
mkdir -p "$r/usr/share" "$r/usr/lib/mysql" "$r/bin" "$r/etc/mysql" "$r/tmp" "$r/run/mysqld" "$r/var/lib/mysql"
cp -a /usr/share/mysql "$r/usr/share/"
cp -a /usr/lib/mysql/plugin "$r/usr/lib/mysql/"
cp /bin/busybox "$r/bin/busybox"
for a in sh cat ls rm mkdir chown su env id hostname sed grep tr cut dirname basename sleep kill tar; do ln -s busybox "$r/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\\nmysql:x:999:999:mysql:/var/lib/mysql:/bin/sh\\n' >"$r/etc/passwd"
printf 'root:x:0:\\nmysql:x:999:\\n' >"$r/etc/group"
printf '[mysqld]\\nuser=mysql\\ndatadir=/var/lib/mysql\\nsocket=/run/mysqld/mysqld.sock\\nbind-address=0.0.0.0\\n[client]\\nsocket=/run/mysqld/mysqld.sock\\n' >"$r/etc/mysql/my.cnf"
cat >"$r/entrypoint.sh" <<'SH'
#!/bin/sh
set -e
chown -R 999:999 /var/lib/mysql /run/mysqld
if [ ! -d /var/lib/mysql/mysql ]; then
  mariadb-install-db --user=mysql --datadir=/var/lib/mysql --basedir=/usr --auth-root-authentication-method=normal --skip-test-db >/dev/null
  mariadbd --skip-networking &
  pid=$!
  i=0; until mariadb -uroot -e 'SELECT 1' >/dev/null 2>&1; do i=$((i+1)); [ $i -lt 100 ] || exit 1; sleep 0.2; done
  mariadb -uroot <<SQL
ALTER USER 'root'@'localhost' IDENTIFIED BY '$MARIADB_ROOT_PASSWORD';
CREATE DATABASE IF NOT EXISTS \\\`\${MARIADB_DATABASE:-app}\\\`;
SQL
  kill $pid; wait $pid || true
fi
exec mariadbd
SH
chmod 755 "$r/entrypoint.sh"
chmod 1777 "$r/tmp"
tar -C "$r" -c . | docker import --change 'ENV PATH=/usr/sbin:/usr/bin:/bin' --change 'CMD ["/entrypoint.sh"]' - ${mariaImage} >/dev/null
rm -rf "$r"
`;
const mariaSql = (ctr: string, sql: string) => execFileSync('docker', ['exec', '-e', 'MYSQL_PWD=m-secret', ctr, 'mariadb', '-uroot', '-N', '-B', 'shop', '-e', sql], { encoding: 'utf8' }).trim();

const pgSql = (ctr: string, sql: string) => execFileSync('docker', ['exec', ctr, 'psql', '-U', 'postgres', '-d', 'shop', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' }).trim();
const redis = (ctr: string, ...args: string[]) => execFileSync('docker', ['exec', ctr, 'redis-cli', '--raw', ...args], { encoding: 'utf8' }).trim();

function ensureImages(): void {
  if (execFileSync('docker', ['images', '-q', image], { encoding: 'utf8' }).trim() === '') execFileSync('sh', ['-c', buildImage]);
  if (execFileSync('docker', ['images', '-q', pgImage], { encoding: 'utf8' }).trim() === '') execFileSync('sh', ['-c', buildPgImage]);
  if (execFileSync('docker', ['images', '-q', mariaImage], { encoding: 'utf8' }).trim() === '') execFileSync('sh', ['-c', buildMariaImage]);
}

describe('databases in their service containers', { timeout: 120_000 }, () => {
  let p: TestProject;
  let ctr: string;
  before(async () => {
    ensureImages();
    p = await createTestProject({
      'compose.yaml': `
services:
  cache:
    image: ${image}
    volumes: ["cachedata:/data"]
  pg:
    image: ${pgImage}
    environment: { POSTGRES_PASSWORD: pg-secret, POSTGRES_DB: shop }
    healthcheck: { test: ["CMD", "psql", "-U", "postgres", "-d", "shop", "-Atc", "SELECT 1"], interval: 1s, retries: 30 }
  maria:
    image: ${mariaImage}
    environment: { MARIADB_ROOT_PASSWORD: m-secret, MARIADB_DATABASE: shop }
    # A restart leaves it unable to answer for 5 s (the first start does not wait).
    command: ["sh", "-c", "[ -f /tmp/started ] && sleep 5; touch /tmp/started; exec /entrypoint.sh"]
    healthcheck: { test: ["CMD", "mariadb", "-uroot", "-pm-secret", "-e", "SELECT 1"], interval: 1s, retries: 60 }
  app:
    image: berth-test/app:v1
    depends_on: { pg: { condition: service_healthy }, maria: { condition: service_healthy } }
volumes:
  cachedata: {}
`,
      'berth.yaml': `
name: {{NAME}}
backup:
  repository: repo
  password_file: backup.pass
  helper_image: berth-test/app:v1     # not berth's own helper: volumes are streamed as tar
  sources:
    cache: { type: redis, service: cache }
    files: { type: volume, volume: cachedata }
    pg: { type: postgres, service: pg, database: shop }
    maria: { type: mariadb, service: maria, database: shop }
    msub: { type: mariadb, service: maria, database: shop, tables: [numbering] }
    psub: { type: postgres, service: pg, database: shop, tables: [numbering] }
`,
      'backup.pass': 'container-test\n',
    });
    createResticRepository(path.join(p.dir, 'repo'), path.join(p.dir, 'backup.pass'));
    const up = await p.berth(['up']);
    assert.equal(up.code, 0, up.stderr);
    ctr = `${p.name}-cache-blue`;
    redis(ctr, 'MSET', 'k1', 'v1', 'k2', 'v2', 'k3', 'v3');
    mariaSql(`${p.name}-maria-blue`, "CREATE TABLE items (id INT PRIMARY KEY AUTO_INCREMENT, v TEXT); INSERT INTO items (v) SELECT CONCAT('i', seq) FROM seq_1_to_400; CREATE TRIGGER tr BEFORE INSERT ON items FOR EACH ROW SET NEW.v = UPPER(NEW.v)");
    pgSql(`${p.name}-pg-blue`, "CREATE TABLE orders (id serial PRIMARY KEY, item text); INSERT INTO orders (item) SELECT 'o' || g FROM generate_series(1, 250) g");
  });
  after(async () => {
    await p?.cleanup();
  });

  it('backs up RDB and AOF through docker exec, a volume as a tar stream, and drills them', async () => {
    const r = await p.berth(['--json', 'backup', 'run', '--source', 'cache', '--source', 'files']);
    assert.equal(r.code, 0, r.stderr);
    const v = await p.berth(['--json', 'backup', 'verify', '--source', 'cache', '--source', 'files']);
    assert.equal(v.code, 0, v.stderr);
    const [cache, files] = (JSON.parse(v.stdout) as { drills: Array<{ ok: boolean; summary: string }> }).drills;
    assert.ok(cache!.ok && files!.ok);
    assert.equal(cache!.summary, 'RDB valid, 3 keys, AOF present');
    assert.match(files!.summary, /^\d+ files, \d+ bytes, digests equal$/);
  });

  it('restores into the container: the service is stopped, its data replaced, started again', async () => {
    redis(ctr, 'FLUSHALL');
    redis(ctr, 'SET', 'later', 'x');
    const r = await p.berth(['--json', 'restore', 'latest', '--source', 'cache', '--yes']);
    assert.equal(r.code, 0, r.stderr);
    const [res] = JSON.parse(r.stdout) as Array<{ stopped: string[]; safetySnapshot?: string }>;
    assert.deepEqual(res!.stopped, ['cache']);
    assert.ok(res!.safetySnapshot);
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      try {
        if (redis(ctr, 'PING') === 'PONG') break;
      } catch {
        /* starting */
      }
      await new Promise((s) => setTimeout(s, 200));
    }
    assert.equal(redis(ctr, 'MGET', 'k1', 'k3'), 'v1\nv3');
    assert.equal(redis(ctr, 'EXISTS', 'later'), '0');
  });

  it('postgres in its container: pg_dump through docker exec, a drill in a scratch database there, a restore with its writers stopped', async () => {
    const pg = `${p.name}-pg-blue`;
    const r = await p.berth(['--json', 'backup', 'run', '--source', 'pg']);
    assert.equal(r.code, 0, r.stderr);
    const v = await p.berth(['--json', 'backup', 'verify', '--source', 'pg']);
    assert.equal(v.code, 0, v.stderr);
    const [drill] = (JSON.parse(v.stdout) as { drills: Array<{ ok: boolean; summary: string }> }).drills;
    assert.equal(drill!.summary, '1 table, 250 rows, counts and checksums equal');
    assert.equal(pgSql(pg, "SELECT count(*) FROM pg_database WHERE datname LIKE 'berth_drill%'"), '0');

    pgSql(pg, "DELETE FROM orders WHERE id > 5; UPDATE orders SET item = 'x'");
    const res = await p.berth(['--json', 'restore', 'latest', '--source', 'pg', '--yes']);
    assert.equal(res.code, 0, res.stderr);
    const [out] = JSON.parse(res.stdout) as Array<{ stopped: string[] }>;
    assert.deepEqual(out!.stopped, ['app']);
    assert.equal(pgSql(pg, "SELECT count(*), count(*) FILTER (WHERE item = 'x') FROM orders"), '250|0');
    assert.equal(execFileSync('docker', ['inspect', '-f', '{{.State.Running}}', `${p.name}-app-blue`], { encoding: 'utf8' }).trim(), 'true');
  });

  it('mariadb in its container: dump with routines/triggers/events through docker exec, drill, restore with its writers stopped', async () => {
    const maria = `${p.name}-maria-blue`;
    const r = await p.berth(['--json', 'backup', 'run', '--source', 'maria']);
    assert.equal(r.code, 0, r.stderr);
    const v = await p.berth(['--json', 'backup', 'verify', '--source', 'maria']);
    assert.equal(v.code, 0, v.stderr);
    const [drill] = (JSON.parse(v.stdout) as { drills: Array<{ summary: string }> }).drills;
    assert.equal(drill!.summary, '1 table, 400 rows, checksums equal');

    mariaSql(maria, 'DELETE FROM items WHERE id > 3; DROP TRIGGER tr');
    const res = await p.berth(['--json', 'restore', 'latest', '--source', 'maria', '--yes']);
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual((JSON.parse(res.stdout) as Array<{ stopped: string[] }>)[0]!.stopped, ['app']);
    assert.equal(mariaSql(maria, 'SELECT COUNT(*) FROM items'), '400');
    assert.equal(mariaSql(maria, "SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_name = 'tr'"), '1');
  });

  it('a table subset in its container: only that table dumped, drilled, and replaced alone with the writers stopped', async () => {
    const maria = `${p.name}-maria-blue`;
    const pg = `${p.name}-pg-blue`;
    mariaSql(maria, 'CREATE TABLE numbering (k INT PRIMARY KEY, n INT); INSERT INTO numbering SELECT seq, seq FROM seq_1_to_30');
    pgSql(pg, 'CREATE TABLE numbering (k int PRIMARY KEY, n int); INSERT INTO numbering SELECT g, g FROM generate_series(1, 30) g');
    const r = await p.berth(['--json', 'backup', 'run', '--source', 'msub', '--source', 'psub']);
    assert.equal(r.code, 0, r.stderr);
    const v = await p.berth(['--json', 'backup', 'verify', '--source', 'msub', '--source', 'psub']);
    assert.equal(v.code, 0, v.stderr);
    assert.deepEqual((JSON.parse(v.stdout) as { drills: Array<{ summary: string }> }).drills.map((d) => d.summary), ['1 table, 30 rows, checksums equal', '1 table, 30 rows, counts and checksums equal']);

    mariaSql(maria, 'UPDATE numbering SET n = 0; DELETE FROM items WHERE id > 10');
    pgSql(pg, 'UPDATE numbering SET n = 0; DELETE FROM orders WHERE id > 10');
    const res = await p.berth(['--json', 'restore', 'latest', '--source', 'msub', '--source', 'psub', '--yes']);
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual((JSON.parse(res.stdout) as Array<{ stopped: string[] }>).map((x) => x.stopped), [['app'], ['app']]);
    assert.equal(mariaSql(maria, 'SELECT SUM(n) FROM numbering'), '465');
    assert.equal(pgSql(pg, 'SELECT sum(n) FROM numbering'), '465');
    assert.equal(mariaSql(maria, 'SELECT COUNT(*) FROM items'), '10', 'the rest of the database left as it was');
    assert.equal(pgSql(pg, 'SELECT count(*) FROM orders'), '10');
  });

  it('a database container that has just (re)started is waited for until healthy, not dumped while it cannot answer', async () => {
    const maria = `${p.name}-maria-blue`;
    execFileSync('docker', ['restart', '-t', '5', maria]); // unable to answer for its first 5 s
    assert.equal(execFileSync('docker', ['inspect', '-f', '{{.State.Health.Status}}', maria], { encoding: 'utf8' }).trim(), 'starting');
    const r = await p.berth(['--json', 'backup', 'run', '--source', 'maria']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`maria: waiting for ${maria} to become healthy`));
    assert.equal((JSON.parse(r.stdout) as { results: Array<{ status: string }> }).results[0]!.status, 'succeeded');
  });
});

describe('sources declared per service in berth.yaml', { timeout: 120_000 }, () => {
  let p: TestProject;
  before(async () => {
    ensureImages();
    p = await createTestProject({
      'compose.yaml': `
services:
  shopdb:
    image: ${mariaImage}
    environment: { MARIADB_ROOT_PASSWORD: m-secret, MARIADB_DATABASE: shop }
    volumes: ["dbfiles:/var/lib/mysql"]
    healthcheck: { test: ["CMD", "mariadb", "-uroot", "-pm-secret", "-e", "SELECT 1"], interval: 1s, retries: 60 }
  cache:
    image: ${image}
    volumes: ["cachedata:/data"]
  app:
    image: berth-test/app:v1
    volumes: ["uploads:/uploads", "scratch:/scratch"]
    depends_on: { shopdb: { condition: service_healthy } }
volumes:
  dbfiles: {}
  cachedata: {}
  uploads: {}
  scratch: {}
`,
      'berth.yaml': `
name: {{NAME}}
backup:
  repository: repo
  password_file: backup.pass
services:
  shopdb:
    backup: { name: shop, database: shop, writers: [app] }   # the root password comes from the service's environment
  cache:
    backup: false
  app:
    backup: { volumes: [uploads] }
`,
      'backup.pass': 'per-service-test\n',
    });
    createResticRepository(path.join(p.dir, 'repo'), path.join(p.dir, 'backup.pass'));
    const up = await p.berth(['up']);
    assert.equal(up.code, 0, up.stderr);
    mariaSql(`${p.name}-shopdb-blue`, "CREATE TABLE items (id INT PRIMARY KEY AUTO_INCREMENT, v TEXT); INSERT INTO items (v) SELECT CONCAT('i', seq) FROM seq_1_to_123");
    execFileSync('docker', ['exec', `${p.name}-app-blue`, 'sh', '-c', 'echo pic > /uploads/a.jpg && echo junk > /scratch/x']);
  });
  after(async () => {
    await p?.cleanup();
  });

  it('backup run takes exactly the declared sources; verify drills the database dumped in its container', async () => {
    const r = await p.berth(['--json', 'backup', 'run']);
    assert.equal(r.code, 0, r.stderr);
    const run = JSON.parse(r.stdout) as { status: string; results: Array<{ source: string; type: string; status: string }> };
    assert.deepEqual(run.results.map((x) => `${x.source}:${x.type}:${x.status}`), ['shop:mariadb:succeeded', 'uploads:volume:succeeded', 'config:config:succeeded']);
    const v = await p.berth(['--json', 'backup', 'verify']);
    assert.equal(v.code, 0, v.stderr);
    const drills = (JSON.parse(v.stdout) as { drills: Array<{ source: string; ok: boolean; summary: string }> }).drills;
    assert.deepEqual(drills.map((d) => [d.source, d.ok]), [['config', true], ['shop', true], ['uploads', true]]);
    assert.equal(drills.find((d) => d.source === 'shop')!.summary, '1 table, 123 rows, checksums equal');
  });
});
