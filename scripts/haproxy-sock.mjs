#!/usr/bin/env node
// Send one command to an HAProxy stats/admin socket and print the answer
// (a stand-in for `echo "show info" | socat - UNIX:/path/admin.sock`).
//
//   node scripts/haproxy-sock.mjs /run/berth/haproxy/admin.sock "show info"
//
// Exits 1 when the socket cannot be reached or does not answer in time.
import net from 'node:net';

const [sockPath, ...words] = process.argv.slice(2);
if (!sockPath) {
  console.error('usage: haproxy-sock.mjs SOCKET [COMMAND...]   (default command: show info)');
  process.exit(2);
}
const command = words.length ? words.join(' ') : 'show info';
const timeoutMs = Number(process.env.HAPROXY_SOCK_TIMEOUT_MS ?? 5000);

const chunks = [];
const sock = net.connect(sockPath, () => sock.end(`${command}\n`));
sock.setTimeout(timeoutMs, () => {
  console.error(`haproxy-sock: no answer from ${sockPath} within ${timeoutMs} ms`);
  sock.destroy();
  process.exit(1);
});
sock.on('data', (c) => chunks.push(c));
sock.on('error', (err) => {
  console.error(`haproxy-sock: ${sockPath}: ${err.message}`);
  process.exit(1);
});
sock.on('close', () => process.stdout.write(Buffer.concat(chunks)));
