/**
 * What the management API is built from: the supervisor and store it drives, and the settings of
 * this server. Its own module so that the server and the routes both import it, not each other.
 * @module
 */
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { EventBus } from '../core/events.js';
import type { Db } from '../store/db.js';
import type { CanaryDeploys } from '../supervisor/canary.js';
import type { Deployments } from '../supervisor/deployments.js';
import type { ReloadResult } from '../supervisor/reload.js';
import type { Rollouts } from '../supervisor/rollouts.js';
import type { SupervisorApi } from '../supervisor/types.js';
import type { AuthLimits } from './auth.js';
import type { ApiRoute } from './router.js';
import type { SseStreams } from './sse.js';

export interface ApiContext {
  readonly supervisor: SupervisorApi;
  /** Deploy and route swap. */
  readonly deployments: Deployments;
  /** Canary deploys (`POST /api/deploy` with `canary`, `/api/deploys`). */
  readonly canaries: CanaryDeploys;
  /** `POST /api/reload`: re-reads tenement.toml (absent: the route answers not_found). */
  readonly reload?: () => Promise<ReloadResult>;
  /** `ten rollout` (absent: the rollout routes answer not_found). */
  readonly rollouts?: Rollouts;
  readonly db: Db;
  readonly events: EventBus;
  readonly config: Config;
  readonly logger: Logger;
  /** Mounted beside the built-in routes: logs, telemetry, /metrics. */
  readonly extraRoutes: readonly ApiRoute[];
  /** Folder whose files are served at `/` (index.html for `/`). */
  readonly dashboardDir?: string;
  /** Base domain (`ten serve --domain`), reported by GET /api/server for instance URLs. Default `localhost`. */
  readonly domain?: string;
  /** Failed-auth limits; tests may shrink the window. */
  readonly authLimits?: AuthLimits;
  /** Open event and log streams; shared with the log routes among `extraRoutes`. */
  readonly sse: SseStreams;
}
