// A WebSocket upstream for the integration tests. Listens on 127.0.0.1 (port chosen by the
// kernel) and reports on stderr, one line per event:
//   PORT n | UPGRADE <json of the request headers> | CLOSE code reason | ERROR text
// Modes: "echo" (every message back, same type), "close CODE" (closes each connection with
// CODE after its first message), "flood" (64 KiB binary messages, up to 1 GiB, as fast as the
// socket takes them: STALLED <bytes> once it took nothing for 1 s, DONE <bytes> if all went).
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
    // Keeps 8 MiB queued in ws (on top of the socket buffer) until 1 GiB is sent. Reports
    // STALLED once no byte left for 1 s, DONE if it all went out.
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let sent = 0;
    let last = -1;
    let still = 0;
    const pump = () => {
      if (ws.readyState !== ws.OPEN) return;
      while (ws.bufferedAmount < 8 * 1024 * 1024 && sent < 1024 * 1024 * 1024) {
        ws.send(chunk);
        sent += chunk.length;
      }
      const out = sent - ws.bufferedAmount;  // bytes handed to the socket
      if (sent >= 1024 * 1024 * 1024 && ws.bufferedAmount === 0) return say('DONE ' + sent);
      still = out === last ? still + 1 : 0;
      last = out;
      if (still === 50) say('STALLED ' + out);
      setTimeout(pump, 20);
    };
    pump();
  }
});
