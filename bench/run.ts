// `npm run bench`: every benchmark of the project in one run, each measured side by side with its
// peer (direct to the app, nginx, the app's own start). Needs wrk, nginx-light, runsc, pebble and
// openssl (apt-get install -y wrk nginx-light runsc pebble openssl) and a built tree (npm run bench
// builds first).
//   npm run bench                 everything (about 11 minutes on 2 cores)
//   npm run bench -- --quick      shorter runs, for a smoke check
//   npm run bench -- proxy logs   only the named parts: supervisor proxy wake api logs isolation tls restart soak cgroup-join
//   npm run bench -- soak         the chaos soak (about 70 s; not part of the default run)
//   npm run bench -- cgroup-join  how a spawn joins its cgroups, per way (about 20 s; on demand)
import { benchApi, formatPs } from './api.js';
import { benchCgroupJoin } from './cgroup-join.js';
import { benchIsolation } from './isolation.js';
import { benchLogs } from './logs.js';
import { benchProxy, benchWake } from './proxy.js';
import { benchRestart } from './restart.js';
import { benchSoak } from './soak.js';
import { benchWakeTiers } from './wake-tiers.js';
import { benchSupervisor, formatSupervisor } from './supervisor.js';
import { benchTls } from './tls.js';

const PARTS = ['supervisor', 'proxy', 'wake', 'api', 'logs', 'isolation', 'tls', 'restart', 'soak', 'cgroup-join'] as const;
/** Run only when named. */
const ON_DEMAND: readonly Part[] = ['soak', 'cgroup-join'];
type Part = (typeof PARTS)[number];

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const named = args.filter((a): a is Part => (PARTS as readonly string[]).includes(a));
const unknown = args.filter((a) => a !== '--quick' && !(PARTS as readonly string[]).includes(a));
if (unknown.length > 0) {
  console.error(`error: unknown bench part ${unknown.join(', ')} (parts: ${PARTS.join(', ')}; option: --quick)`);
  process.exit(2);
}
const selected = named.length > 0 ? named : PARTS.filter((p) => !ON_DEMAND.includes(p));
const log = (line: string): void => console.log(line);

for (const part of selected) {
  console.log(`\n== ${part} ==`);
  switch (part) {
    case 'supervisor':
      console.log(formatSupervisor(await benchSupervisor({ rounds: quick ? 5 : 15 })));
      break;
    case 'proxy':
      await benchProxy({ withVariants: !quick, log, ...(quick ? { durationS: 4, warmupS: 1, rounds: 1 } : {}) });
      break;
    case 'wake':
      await benchWake({ samples: quick ? 5 : 15, log });
      await benchWakeTiers({ samples: quick ? 10 : 40, log });
      break;
    case 'api': {
      const r = await benchApi(quick ? { requests: 100, psRuns: 3 } : {});
      console.log(`GET /api/instances with ${r.instances} instances: p50 ${r.listP50Ms} ms, p99 ${r.listP99Ms} ms (${r.requests} requests)`);
      console.log(formatPs(r));
      break;
    }
    case 'logs':
      await benchLogs({ log, ...(quick ? { lines: 100_000, durationS: 4, warmupS: 1, rounds: 1 } : {}) });
      break;
    case 'isolation':
      await benchIsolation(quick ? { rounds: 3 } : {});
      break;
    case 'restart':
      await benchRestart({ log, durationS: quick ? 4 : 9 });
      break;
    case 'tls':
      await benchTls({ log, ...(quick ? { durationS: 4, warmupS: 1, rounds: 1, issuances: 4 } : {}) });
      break;
    case 'soak':
      await benchSoak({ log, ...(quick ? { durationS: 15 } : {}) });
      break;
    case 'cgroup-join':
      await benchCgroupJoin({ log, ...(quick ? { rounds: 5 } : {}) });
      break;
  }
}
