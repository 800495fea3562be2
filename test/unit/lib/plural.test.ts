import assert from 'node:assert/strict';
import { test } from 'node:test';
import { counted } from '../../../src/lib/plural.js';

test('counted: the noun in the plural unless the count is one', () => {
  assert.equal(counted(1, 'table'), '1 table');
  assert.equal(counted(0, 'table'), '0 tables');
  assert.equal(counted(303, 'row'), '303 rows');
  assert.equal(counted(2, 'index', 'indexes'), '2 indexes');
});
