// An HTTP upstream streaming Server-Sent Events for the integration tests. Listens on 127.0.0.1
// (port chosen by the kernel) and reports on stderr, one line per event:
//   PORT n | REQUEST path | WROTE k | END path | GONE path (the connection closed before END)
// Paths:
//   /events/lockstep   text/event-stream; writes event k ("id: k", "data: k <ms since epoch>")
//                      each time GET /next arrives, ends after GET /end
//   /events/interval   text/event-stream; N events (?n=, default 15) every ?ms= (200), then ends
//   /plain/interval    the same bytes as text/plain (a response that is not an event stream)
//   /next, /end        the lockstep controls, answered 204
'use strict';
const http = require('http');
const say = (s) => process.stderr.write(s + '\n');

let lockstep = null;  // the response of the open /events/lockstep request
let next = 0;

const event = (k) => 'id: ' + k + '\ndata: ' + k + ' ' + Date.now() + '\n\n';

function stream(req, res, type, url) {
  say('REQUEST ' + url.pathname);
  res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-cache' });
  res.flushHeaders();
  let ended = false;
  res.on('close', () => say((ended ? 'END ' : 'GONE ') + url.pathname));
  const end = () => {
    ended = true;
    res.end();
  };
  return end;
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/events/lockstep') {
    lockstep = { res, end: stream(req, res, 'text/event-stream', url) };
    next = 0;
  } else if (url.pathname === '/events/interval' || url.pathname === '/plain/interval') {
    const type = url.pathname.startsWith('/events') ? 'text/event-stream' : 'text/plain';
    const end = stream(req, res, type, url);
    const n = Number(url.searchParams.get('n') || 15);
    const ms = Number(url.searchParams.get('ms') || 200);
    let k = 0;
    const tick = () => {
      if (res.destroyed) return;
      res.write(event(k));
      say('WROTE ' + k);
      if (++k === n) return end();
      setTimeout(tick, ms);
    };
    tick();
  } else if (url.pathname === '/next' && lockstep) {
    lockstep.res.write(event(next));
    say('WROTE ' + next++);
    res.writeHead(204).end();
  } else if (url.pathname === '/end' && lockstep) {
    lockstep.end();
    lockstep = null;
    res.writeHead(204).end();
  } else {
    res.writeHead(404).end();
  }
});
server.listen(0, '127.0.0.1', () => say('PORT ' + server.address().port));
