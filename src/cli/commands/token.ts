/**
 * `ten token-gen [--tenant ID]`, `ten token-list [--json]`, `ten token-revoke ID`. They open the
 * state store in the data dir directly, so they work whether or not the server is running.
 * @module
 */
import type { Command } from 'commander';
import { join, resolve } from 'node:path';
import { assertName } from '../../core/names.js';
import type { CliContext } from '../command.js';
import { formatDuration, formatTable } from '../output.js';

/** The daemon-side modules, loaded only by these commands (the CLI is otherwise a thin client). */
async function openStore(dataDir: string) {
  const [auth, store] = await Promise.all([import('../../api/auth.js'), import('../../store/db.js')]);
  return { auth, db: store.openDb(join(dataDir, 'tenement.db')) };
}

const DATA_DIR_HELP = 'data folder (also accepted before the command)';

/** `--data-dir` after the command wins over the global one. */
function dataDirOf(ctx: CliContext, flags: { dataDir?: string }): string {
  return flags.dataDir === undefined ? ctx.dataDir() : resolve(flags.dataDir);
}

export function register(program: Command, ctx: CliContext): void {
  program.command('token-gen')
    .description('create an API token and print it once (admin tokens are also saved to {data_dir}/api_token)')
    .option('--tenant <id>', 'read-only token for the instances with this id')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .action(ctx.action(async (flags: { tenant?: string; dataDir?: string }) => {
      const tenant = flags.tenant === undefined ? null : assertName('id', flags.tenant);
      const dataDir = dataDirOf(ctx, flags);
      const { auth, db } = await openStore(dataDir);
      try {
        const created = auth.createToken(db, { tenant, dataDir });
        const what = tenant === null
          ? `admin token ${created.id} (saved to ${join(dataDir, auth.TOKEN_FILE)})`
          : `read-only token ${created.id} for instances with id "${tenant}"`;
        return { stdout: `  ${created.token}`, stderr: `created ${what}; it is not shown again` };
      } finally {
        db.close();
      }
    }));

  program.command('token-list')
    .description('list API tokens (ids and scope; the tokens themselves are not stored)')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .action(ctx.action(async (flags: { json?: boolean; dataDir?: string }) => {
      const { auth, db } = await openStore(dataDirOf(ctx, flags));
      try {
        const tokens = auth.listTokens(db);
        if (flags.json === true) {
          return JSON.stringify(tokens.map((t) => ({ id: t.id, tenant: t.tenant, created_at: new Date(t.createdAt).toISOString() })), null, 2);
        }
        if (tokens.length === 0) return 'no tokens (create one with `ten token-gen`)';
        const now = Date.now();
        return formatTable(['ID', 'SCOPE', 'CREATED'], tokens.map((t) => [
          t.id, t.tenant === null ? 'admin' : `tenant ${t.tenant}`, `${formatDuration((now - t.createdAt) / 1000)} ago`,
        ]));
      } finally {
        db.close();
      }
    }));

  program.command('token-revoke')
    .description('revoke an API token by id (see `ten token-list`); it stops working at once')
    .argument('<id>', 'token id, e.g. tok_3f9a1c2b')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .action(ctx.action(async (id: string, flags: { dataDir?: string }) => {
      const { auth, db } = await openStore(dataDirOf(ctx, flags));
      try {
        auth.revokeToken(db, id);
        return `revoked ${id}`;
      } finally {
        db.close();
      }
    }));
}
