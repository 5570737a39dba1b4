// Bench child: the undici@7 alternative measured against tenement's own upstream client:
// node:http server + undici Pool.dispatch with a raw (legacy-callback) handler, no stream layer.
// Usage: proxy-undici-variant.mjs LISTEN_PORT UPSTREAM_PORT
import http from 'node:http';
import { Pool } from 'undici';
const [listenPort, upstreamPort] = process.argv.slice(2).map(Number);
const pool = new Pool(`http://127.0.0.1:${upstreamPort}`, { pipelining: 1, bodyTimeout: 0 });
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-connection', 'expect']);

class Handler {
  constructor(res) { this.res = res; }
  onConnect(abort) { this.abort = abort; }
  onHeaders(status, raw, resume, text) {
    if (status < 200) return true;
    const out = [];
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i].toString('latin1');
      if (!HOP.has(name.toLowerCase())) out.push(name, raw[i + 1].toString('latin1'));
    }
    this.res.writeHead(status, text, out);
    this.resume = resume;
    return true;
  }
  onData(chunk) { const ok = this.res.write(chunk); if (!ok) this.res.once('drain', this.resume); return ok; }
  onComplete() { this.res.end(); }
  onError() { if (!this.res.headersSent) { this.res.statusCode = 502; this.res.end(); } else this.res.destroy(); }
}

http.createServer({ noDelay: true }, (req, res) => {
  const headers = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (!HOP.has(raw[i].toLowerCase())) headers.push(raw[i], raw[i + 1]);
  headers.push('x-forwarded-for', req.socket.remoteAddress);
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  pool.dispatch({ path: req.url, method: req.method, headers, body: hasBody ? req : null }, new Handler(res));
}).listen(listenPort, '127.0.0.1', () => console.log(`listening on ${listenPort}`));
process.on('SIGTERM', () => process.exit(0));
