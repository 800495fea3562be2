// Tests for src/lib/ids.ts and src/lib/os-user.ts (kept here with the store they serve).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newId } from '../../../src/lib/ids.js';
import { osUser } from '../../../src/lib/os-user.js';

describe('newId', () => {
  it('is a UTC timestamp plus 6 hex characters', () => {
    const clock = () => Date.UTC(2026, 10, 23, 9, 15, 0, 456);
    assert.equal(newId(clock, () => '3fa9c1'), '20261123T091500Z-3fa9c1');
    assert.match(newId(clock), /^20261123T091500Z-[0-9a-f]{6}$/);
  });

  it('carries the same stamp as toISOString() would, across years, months and day boundaries', () => {
    for (let i = 0; i < 2000; i++) {
      const ms = Date.UTC(1999, 0, 1) + Math.floor(Math.random() * 60 * 365 * 86_400_000);
      const expected = new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
      assert.equal(newId(() => ms, () => 'x'), `${expected}-x`, new Date(ms).toISOString());
    }
  });

  it('sorts by time', () => {
    const a = newId(() => Date.UTC(2026, 0, 9, 23, 59, 59));
    const b = newId(() => Date.UTC(2026, 0, 10, 0, 0, 0));
    assert.ok(a < b);
  });
});

describe('osUser', () => {
  const userInfo = () => ({ username: 'root' });
  it('prefers SUDO_USER', () => {
    assert.equal(osUser({ env: { SUDO_USER: 'alice' }, userInfo, getuid: () => 0 }), 'alice');
  });
  it('uses the login name otherwise', () => {
    assert.equal(osUser({ env: { SUDO_USER: '' }, userInfo, getuid: () => 0 }), 'root');
  });
  it('falls back to uid:<n> when the uid has no passwd entry', () => {
    const noEntry = () => {
      throw new Error('ENOENT: no such file or directory, uv_os_get_passwd');
    };
    assert.equal(osUser({ env: {}, userInfo: noEntry, getuid: () => 1234 }), 'uid:1234');
  });
  it('works for the real process', () => {
    assert.ok(osUser().length > 0);
  });
});
