// A WebSocket client for the integration tests. Prints one result line on stdout and exits 0
// when the scenario held, 1 otherwise.
//   echo URL          1 B, 64 KiB and 10 MB as text and as binary, and a fragmented message,
//                     each echoed exactly (sha256 compared)
//   close URL CODE    closes with CODE "bye"; prints the code the server closed back with
//   await-close URL   sends one message, prints the code of the close it then receives
//   many URL N        opens and closes N connections, 50 at a time
'use strict';
const crypto = require('crypto');
const WebSocket = require('ws');
const [scenario, url, arg] = process.argv.slice(2);
const done = (ok, line) => {
  process.stdout.write(line + '\n');
  process.exit(ok ? 0 : 1);
};
const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');
setTimeout(() => done(false, 'TIMEOUT ' + scenario), 50000);

function open() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { maxPayload: 64 * 1024 * 1024 });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (req, res) => reject(new Error('status ' + res.statusCode)));
    ws.once('error', reject);
  });
}

function next(ws) {
  return new Promise((resolve, reject) => {
    ws.once('message', (data, binary) => resolve({ data: Buffer.from(data), binary }));
    ws.once('close', (code) => reject(new Error('closed ' + code)));
  });
}

async function echo() {
  const ws = await open();
  // Each size as text (random hex, valid UTF-8) and as binary.
  const messages = [];
  for (const n of [1, 64 * 1024, 10 * 1024 * 1024]) {
    messages.push({ data: Buffer.from(crypto.randomBytes(n).toString('hex').slice(0, n)), binary: false });
    messages.push({ data: crypto.randomBytes(n), binary: true });
  }
  for (const m of messages) {
    const reply = next(ws);
    ws.send(m.data, { binary: m.binary });
    const r = await reply;
    if (r.binary !== m.binary || sha(r.data) !== sha(m.data))
      return done(false, 'FAIL echo of ' + m.data.length + (m.binary ? ' binary' : ' text') + ' bytes');
  }
  // One message in three frames (ws sends the parts after a fin=false one as continuation
  // frames), binary then text.
  for (const binary of [true, false]) {
    const parts = [Buffer.from('frag-'), Buffer.from(crypto.randomBytes(500).toString('hex')), Buffer.from('-end')];
    const reply = next(ws);
    ws.send(parts[0], { binary, fin: false });
    ws.send(parts[1], { binary, fin: false });
    ws.send(parts[2], { binary, fin: true });
    const r = await reply;
    if (r.binary !== binary || sha(r.data) !== sha(Buffer.concat(parts)))
      return done(false, 'FAIL fragmented ' + (binary ? 'binary' : 'text') + ' echo');
  }
  ws.close(1000);
  done(true, 'OK echo');
}

async function closeWith() {
  const ws = await open();
  ws.on('close', (code) => done(true, 'CLOSED ' + code));
  ws.close(Number(arg), 'bye');
}

async function awaitClose() {
  const ws = await open();
  ws.on('close', (code) => done(true, 'CLOSED ' + code));
  ws.send('hello');
}

async function many() {
  const total = Number(arg);
  let opened = 0;
  const one = async () => {
    const ws = await open();
    opened++;
    await new Promise((resolve) => {
      ws.on('close', resolve);
      ws.close(1000);
    });
  };
  for (let i = 0; i < total; i += 50) {
    const batch = [];
    for (let j = i; j < Math.min(total, i + 50); j++) batch.push(one());
    await Promise.all(batch);
  }
  done(opened === total, 'OPENED ' + opened);
}

const scenarios = { echo, close: closeWith, 'await-close': awaitClose, many };
(scenarios[scenario] || (() => done(false, 'unknown scenario')))().catch((e) =>
  done(false, 'ERROR ' + e.message));
