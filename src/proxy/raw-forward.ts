/**
 * The raw front path's forwarding job: the shared ForwardJob core answering straight on the
 * client socket through its RawConnection.
 * @module
 */
import { ForwardJob } from './forward.js';
import type { ForwardContext, ForwardRequest } from './forward.js';
import type { RawConnection, RawExchange } from './raw-connection.js';
import type { ResponseHead } from './response-head.js';
import type { InstanceRoute, ServiceRoutes } from './route-table.js';

export class RawForwardJob extends ForwardJob implements RawExchange {
  private readonly client: RawConnection;

  constructor(ctx: ForwardContext, route: InstanceRoute, service: ServiceRoutes | null, request: ForwardRequest, client: RawConnection) {
    super(ctx, route, service, request);
    this.client = client;
  }

  protected get statusCode(): number {
    return this.client.statusCode;
  }

  protected sendHead(head: ResponseHead): void {
    this.client.respondHead(head);
  }

  protected sendData(chunk: Buffer): boolean {
    return this.client.respondData(chunk);
  }

  protected sendEnd(): void {
    this.client.respondEnd();
  }

  protected sendCut(): void {
    this.client.cut();
  }

  protected sendError(status: 502 | 503 | 504): void {
    this.client.respondError(status);
  }
}
