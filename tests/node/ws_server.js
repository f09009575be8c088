// A WebSocket upstream for the integration tests. Listens on 127.0.0.1 (port chosen by the
// kernel) and reports on stderr, one line per event:
//   PORT n | UPGRADE <json of the request headers> | CLOSE code reason | ERROR text
// Modes: "echo" (every message back, same type), "close CODE" (closes each connection with
// CODE after its first message), "flood" (sends 64 KiB binary messages for as long as ws
// accepts them, reporting SENT <bytes> when its socket stops taking them).
'use strict';
const { WebSocketServer } = require('ws');
const mode = process.argv[2] || 'echo';
const arg = process.argv[3];
const say = (s) => process.stderr.write(s + '\n');

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 64 * 1024 * 1024 });
wss.on('listening', () => say('PORT ' + wss.address().port));
wss.on('connection', (ws, req) => {
  say('UPGRADE ' + JSON.stringify(req.headers));
  ws.on('error', (e) => say('ERROR ' + e.message));
  ws.on('close', (code, reason) => say('CLOSE ' + code + ' ' + reason.toString()));
  if (mode === 'echo') {
    ws.on('message', (data, binary) => ws.send(data, { binary }));
  } else if (mode === 'close') {
    ws.on('message', () => ws.close(Number(arg), 'from upstream'));
  } else if (mode === 'flood') {
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let sent = 0;
    let reported = false;
    const pump = () => {
      while (ws.readyState === ws.OPEN && ws.bufferedAmount < 8 * 1024 * 1024) {
        ws.send(chunk);
        sent += chunk.length;
        if (sent >= 1024 * 1024 * 1024) return;  // 1 GB at most
      }
      if (!reported && ws.readyState === ws.OPEN) {
        reported = true;
        say('SENT ' + sent);
      }
      if (ws.readyState === ws.OPEN) setTimeout(pump, 20);
    };
    pump();
  }
});
