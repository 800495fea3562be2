import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDotenv } from '../../../src/project/dotenv.js';
import { interpolate, interpolateTree } from '../../../src/project/interpolate.js';
import { loadError, yaml } from './helpers.js';

const env = { SET: 'value', EMPTY: '', PORT: '8080' };

const cases: [string, string][] = [
  ['plain', 'plain'],
  ['$SET', 'value'],
  ['${SET}', 'value'],
  ['a-${SET}-b', 'a-value-b'],
  ['$SET.x', 'value.x'],
  ['$UNSET', ''],
  ['${UNSET}', ''],
  ['${UNSET:-def}', 'def'],
  ['${EMPTY:-def}', 'def'],
  ['${EMPTY-def}', ''],
  ['${UNSET-def}', 'def'],
  ['${SET:-def}', 'value'],
  ['${SET:+alt}', 'alt'],
  ['${EMPTY:+alt}', ''],
  ['${EMPTY+alt}', 'alt'],
  ['${UNSET+alt}', ''],
  ['${SET:?boom}', 'value'],
  ['${EMPTY?boom}', ''],
  ['${UNSET:-${PORT}}', '8080'],
  ['${UNSET:-${ALSO_UNSET:-deep}}', 'deep'],
  ['$$', '$'],
  ['$$SET', '$SET'],
  ['$$(cat /run/secrets/x)', '$(cat /run/secrets/x)'],
  ['${PORT}:80', '8080:80'],
  ['${UNSET:-a b}', 'a b'],
];

for (const [input, expected] of cases) {
  test(`interpolate ${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => {
    assert.equal(interpolate(input, env), expected);
  });
}

const errors: [string, RegExp][] = [
  ['${UNSET:?set UNSET first}', /: required variable UNSET is missing a value: set UNSET first$/],
  ['${EMPTY:?}', /: required variable EMPTY is missing a value$/],
  ['${UNSET?msg}', /required variable UNSET/],
  ['${SET', /unclosed/],
  ['$1', /invalid interpolation "\$1"; write "\$\$"/],
  ['cost: 5$', /invalid interpolation/],
  ['${bad name}', /invalid variable/],
];

for (const [input, pattern] of errors) {
  test(`interpolate ${JSON.stringify(input)} fails with ${pattern}`, () => {
    assert.throws(() => interpolate(input, env), pattern);
  });
}

test('interpolateTree replaces string values in place, never keys, and reports paths', () => {
  const tree = { $SET: ['${SET}', 1, { k: '${UNSET:?need it}' }] };
  const found: unknown[] = [];
  interpolateTree(tree, env, (p, message) => found.push([p, message]));
  assert.deepEqual(tree, { $SET: ['value', 1, { k: '${UNSET:?need it}' }] });
  assert.deepEqual(found, [[['$SET', 2, 'k'], 'required variable UNSET is missing a value: need it']]);
});

test('interpolate collects variables that were unset and became empty, not those with a default', () => {
  const unset = new Set<string>();
  interpolate('$A ${B} ${SET} ${EMPTY} ${C:-x} ${D-x} ${E:+y} ${F+y} ${G:-${H}}', env, unset);
  assert.deepEqual([...unset], ['A', 'B', 'H']);
});

test('interpolateTree tells which values used unset variables, as written', () => {
  const tree = { a: '${X}:/data', b: ['$SET', '${Y:-ok}'], c: '${Z}${W:?need W}' };
  const found: unknown[] = [];
  interpolateTree(tree, env, () => {}, (p, names, written) => found.push([p, names, written]));
  assert.deepEqual(found, [[['a'], ['X'], '${X}:/data']], 'a value that failed is reported as an error only');
});

test('a problem with a value that used unset variables names them', async () => {
  const lines = (...l: string[]) => yaml('services:', '  web:', '    image: nginx', ...l);
  assert.equal(
    await loadError({ 'compose.yaml': lines('    volumes:', '      - ${MEDIA}:/media') }),
    'compose.yaml:5:9 services.web.volumes[0]: volume source is empty in ":/media" — written "${MEDIA}:/media" and MEDIA is not set (set it in the environment or in .env)',
  );
  assert.equal(
    await loadError({ 'compose.yaml': lines('    ports: ["${HOST}:${PORT}:80"]') }),
    'compose.yaml:4:13 services.web.ports[0]: should be a port like "8080:80", "127.0.0.1:8080:80/tcp" or "80", got "::80" (write IPv6 addresses in brackets) — written "${HOST}:${PORT}:80" and HOST and PORT are not set (set them in the environment or in .env)',
  );
  // Set but empty is what the author asked for: no note.
  assert.equal(
    await loadError({ 'compose.yaml': lines('    volumes: ["${MEDIA}:/media"]') }, { env: { MEDIA: '' } }),
    'compose.yaml:4:15 services.web.volumes[0]: volume source is empty in ":/media"',
  );
});

test('a missing required variable is reported at its value in the compose file', async () => {
  const message = await loadError({
    'compose.yaml': yaml('services:', '  web:', '    image: nginx', '    environment:', '      TOKEN: ${TOKEN:?set TOKEN}'),
  });
  assert.equal(message, 'compose.yaml:5:14 services.web.environment.TOKEN: required variable TOKEN is missing a value: set TOKEN');
});

test('parseDotenv reads quotes, comments, export and earlier variables', () => {
  const text = [
    '# comment',
    'A=1',
    'export B = two words  # trailing comment',
    "C='single $A # kept'",
    'D="double\\n$A"',
    'E=${A}-${OUTER}',
    'BARE',
    '',
  ].join('\n');
  const { values, issues } = parseDotenv(text, { OUTER: 'o' });
  assert.deepEqual(issues, []);
  assert.deepEqual(values, { A: '1', B: 'two words', C: 'single $A # kept', D: 'double\n1', E: '1-o', BARE: null });
});

test('parseDotenv reports bad lines with their line number', () => {
  const { issues } = parseDotenv('A=1\nnot a line\n');
  assert.deepEqual(issues, [{ line: 2, message: 'should be KEY=VALUE, got "not a line"' }]);
});
