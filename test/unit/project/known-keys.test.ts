/** The key a misspelt one means, and the known keys carried through zod's unknown-key message. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { knownKeysIn, knownKeysMessage, meantKey } from '../../../src/project/known-keys.js';

describe('meantKey', () => {
  const retention = ['daily', 'weekly', 'monthly'];
  const service = ['image', 'environment', 'env_file', 'volumes', 'ports', 'healthcheck', 'restart', 'user'];

  it('finds the key but for case, dashes and underscores', () => {
    assert.equal(meantKey('Env-File', service), 'env_file');
    assert.equal(meantKey('envfile', service), 'env_file');
  });

  it('finds a known key that is the last or first words of the unknown one', () => {
    assert.equal(meantKey('keep_daily', retention), 'daily');
    assert.equal(meantKey('keep-monthly', retention), 'monthly');
    assert.equal(meantKey('image_name', service), 'image');
    assert.equal(meantKey('keep_env_file', service), 'env_file');
  });

  it('does not take a key that merely starts like a known one for it', () => {
    assert.equal(meantKey('userns_mode', service), undefined);
    assert.equal(meantKey('imagename', service), undefined);
  });

  it('finds the nearest key within a third of its length in edits', () => {
    assert.equal(meantKey('enviroment', service), 'environment');
    assert.equal(meantKey('helthcheck', service), 'healthcheck');
    assert.equal(meantKey('volume', service), 'volumes');
    assert.equal(meantKey('usr', service), 'user');
  });

  it('suggests nothing for a key close to none, or without known keys', () => {
    assert.equal(meantKey('colour', service), undefined);
    assert.equal(meantKey('privileged', service), undefined);
    assert.equal(meantKey('hourly', retention), undefined);
    assert.equal(meantKey('daily', []), undefined);
  });

  it('does not take a two-letter key as the one a long key starts with', () => {
    assert.equal(meantKey('ipv4_address', ['ip', 'aliases']), undefined);
  });
});

describe('knownKeysMessage', () => {
  it('carries the keys to knownKeysIn, and other messages carry none', () => {
    assert.deepEqual(knownKeysIn(knownKeysMessage(['a', 'b_c'])), ['a', 'b_c']);
    assert.equal(knownKeysIn('Unrecognized key(s) in object: x'), undefined);
  });
});
