/**
 * Reads a request's JSON body (bounded) and validates it with a contract schema. Validation
 * failures become one-line 400 errors naming the field; bad names and weights keep their own codes.
 * @module
 */
import type { IncomingMessage } from 'node:http';
import type * as z from 'zod';
import { TenementError, type ErrorCode } from '../core/errors.js';

const MAX_BODY_BYTES = 1024 * 1024;
const NAME_FIELDS = new Set(['service', 'process', 'id', 'version', 'from', 'to']);

export async function readJsonBody<S extends z.ZodType>(req: IncomingMessage, schema: S): Promise<z.output<S>> {
  const text = await readText(req);
  let value: unknown;
  if (text.trim().length > 0) {
    try {
      value = JSON.parse(text);
    } catch {
      throw new TenementError('bad_request', 'request body is not valid JSON');
    }
  }
  return validate(schema, value);
}

/** Parses `value` with `schema`, turning the first issue into a coded TenementError. */
export function validate<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue === undefined) throw new TenementError('bad_request', 'invalid request body');
  const field = issue.path.map(String).join('.');
  let code: ErrorCode = 'bad_request';
  if (field === 'weight') code = 'invalid_weight';
  else if (NAME_FIELDS.has(field) && issue.code === 'invalid_format') code = 'invalid_name';
  let message = field === '' ? issue.message : `${field}: ${issue.message}`;
  if (issue.code === 'invalid_type' && value === undefined) message = 'request body is required (JSON)';
  // The shared schemas word these messages without the field; name it the way core/names.ts does.
  else if (code === 'invalid_name') message = issue.message.replace(/^invalid name/, `invalid ${field === 'process' ? 'service' : field}`);
  else if (code === 'invalid_weight') message = issue.message;
  throw new TenementError(code, message);
}

/** An API body over 1 MiB: 413, answered while the rest of the body is still arriving. */
function tooLarge(): TenementError {
  return new TenementError('payload_too_large', 'request body is larger than 1 MiB');
}

function readText(req: IncomingMessage): Promise<string> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > MAX_BODY_BYTES) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        // Stop collecting, but leave the socket alone: the error hook answers 413 and discards the rest.
        req.off('data', onData);
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
