// Bench child: the alternative measured against tenement's undici forwarder: node:http server +
// a tuned keep-alive http.Agent + pipe. Usage: proxy-agent-variant.mjs LISTEN_PORT UPSTREAM_PORT
import http from 'node:http';
const [listenPort, upstreamPort] = process.argv.slice(2).map(Number);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256, scheduling: 'lifo' });
http.createServer({ noDelay: true }, (req, res) => {
  const headers = { ...req.headers, 'x-forwarded-for': req.socket.remoteAddress };
  delete headers.connection;
  const up = http.request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers, agent }, (ur) => {
    res.writeHead(ur.statusCode, ur.rawHeaders.filter((_, i, a) => !/^(connection|keep-alive|transfer-encoding)$/i.test(a[i - (i % 2)])));
    ur.pipe(res);
  });
  up.on('error', () => { res.statusCode = 502; res.end(); });
  req.pipe(up);
}).listen(listenPort, '127.0.0.1', () => console.log(`listening on ${listenPort}`));
process.on('SIGTERM', () => process.exit(0));
