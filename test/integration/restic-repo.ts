/**
 * Writes a new, empty restic repository (format version 2) whose key is derived with cheap scrypt
 * parameters, the way restic's own test suite does (`TestUseLowSecurityKDFParameters`).
 *
 * `restic init` calibrates scrypt to ~0.5 s on this machine and ~2.9 s for the init itself, and every
 * later restic command pays the 0.5 s again to open the key. The integration tests run a few hundred
 * restic commands, so that alone was minutes of CI. The repository written here is a real one (the
 * layout, config and key file of restic's design document, encrypted with AES-256-CTR and
 * Poly1305-AES); only the key derivation is weaker. Tests that exercise `berth`'s own `init` (and the
 * benchmark, which compares with plain restic) do not use it.
 */
import { createCipheriv, createHash, randomBytes, scryptSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Cheap on purpose: ~1 ms instead of restic's calibrated ~0.5 s. */
const kdf = { N: 1024, r: 8, p: 1 };
/** The chunker polynomial restic's own tests use (an irreducible polynomial of degree 53). */
const chunkerPolynomial = '3da3358b4dc173';

interface KeySet {
  readonly encrypt: Buffer; // 32 bytes, AES-256
  readonly macK: Buffer; // 16 bytes, AES-128 key of Poly1305-AES
  readonly macR: Buffer; // 16 bytes, Poly1305 r
}

/** Creates the repository at `dir` (which must not hold one) for the password in `passwordFile`. */
export function createResticRepository(dir: string, passwordFile: string): void {
  if (fs.existsSync(path.join(dir, 'config'))) throw new Error(`${dir} already holds a restic repository`);
  // restic trims the password file's surrounding white space.
  const password = fs.readFileSync(passwordFile, 'utf8').trim();
  const master: KeySet = { encrypt: randomBytes(32), macK: randomBytes(16), macR: randomBytes(16) };

  const salt = randomBytes(64);
  const derived = scryptSync(password, salt, 64, { ...kdf, maxmem: 64 * 1024 * 1024 });
  const userKey: KeySet = { encrypt: derived.subarray(0, 32), macK: derived.subarray(32, 48), macR: derived.subarray(48, 64) };
  const masterJson = JSON.stringify({ mac: { k: master.macK.toString('base64'), r: master.macR.toString('base64') }, encrypt: master.encrypt.toString('base64') });
  const keyFile = JSON.stringify({
    created: new Date().toISOString(),
    username: os.userInfo().username,
    hostname: os.hostname(),
    kdf: 'scrypt',
    ...kdf,
    salt: salt.toString('base64'),
    data: seal(userKey, Buffer.from(masterJson)).toString('base64'),
  });
  const config = JSON.stringify({ version: 2, id: randomBytes(32).toString('hex'), chunker_polynomial: chunkerPolynomial });

  for (const sub of ['index', 'keys', 'locks', 'snapshots']) fs.mkdirSync(path.join(dir, sub), { recursive: true, mode: 0o700 });
  for (let i = 0; i < 256; i++) fs.mkdirSync(path.join(dir, 'data', i.toString(16).padStart(2, '0')), { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(dir, 'keys', createHash('sha256').update(keyFile).digest('hex')), keyFile, { mode: 0o400 });
  // Written last: a repository is there once its config is.
  fs.writeFileSync(path.join(dir, 'config'), seal(master, Buffer.from(config)), { mode: 0o400 });
}

/** restic's file encryption: IV ‖ AES-256-CTR(plaintext) ‖ Poly1305-AES(ciphertext, nonce = IV). */
function seal(key: KeySet, plaintext: Buffer): Buffer {
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-ctr', key.encrypt, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const s = createCipheriv('aes-128-ecb', key.macK, null).setAutoPadding(false).update(iv);
  return Buffer.concat([iv, ciphertext, poly1305(key.macR, s, ciphertext)]);
}

/** Poly1305 (RFC 8439 §2.5) with the one-time key r ‖ s. */
function poly1305(rBytes: Buffer, sBytes: Buffer, message: Buffer): Buffer {
  const r = littleEndian(rBytes) & 0x0ffffffc0ffffffc0ffffffc0fffffffn;
  const p = (1n << 130n) - 5n;
  let acc = 0n;
  for (let i = 0; i < message.length; i += 16) {
    const block = message.subarray(i, i + 16);
    acc = ((acc + littleEndian(block) + (1n << BigInt(8 * block.length))) * r) % p;
  }
  acc = (acc + littleEndian(sBytes)) & ((1n << 128n) - 1n);
  const out = Buffer.alloc(16);
  for (let i = 0; i < 16; i++) out[i] = Number((acc >> BigInt(8 * i)) & 0xffn);
  return out;
}

function littleEndian(bytes: Buffer): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

/**
 * The lock files in a local repository. restic writes each through a `<id>-tmp-<n>` file and
 * renames it; one interrupted at that moment leaves the temporary file, which restic ignores.
 */
export function lockFiles(repo: string): string[] {
  return fs.readdirSync(path.join(repo, 'locks')).filter((f) => /^[0-9a-f]{64}$/.test(f));
}
