/**
 * Bench child: tenement's front server (the real createFrontServer) routing `prod.app.localhost`
 * to one upstream port, with a static supervisor. Usage: proxy-front.ts LISTEN_PORT UPSTREAM_PORT
 * @module
 */
import { RequestStats } from '../src/observability/request-stats.js';
import { createFrontServer } from '../src/proxy/server.js';
import { serviceConfig, TestSupervisor } from '../test/helpers/proxy-supervisor.js';

const [listenPort, upstreamPort] = process.argv.slice(2).map(Number);
const supervisor = new TestSupervisor([serviceConfig('app')]);
supervisor.add('app', 'prod', { port: upstreamPort! });
const logger = { warn: (o: object, m: string) => console.error(m, o), error: (o: object, m: string) => console.error(m, o) };
const server = createFrontServer({
  supervisor, domain: 'localhost', stats: new RequestStats(), logger,
  management: (_req, res) => res.end('management\n'),
});
server.listen(listenPort, '127.0.0.1', () => console.log(`listening on ${listenPort}`));
process.on('SIGTERM', () => process.exit(0));
