/**
 * The loaded, validated configuration: what every other layer reads. Derived from the zod schema's
 * output (schema.ts), never written by hand: times are in ms, paths absolute, everything frozen.
 * @module
 */
import type * as z from 'zod';
import type { ConfigFileSchema } from './schema.js';

/** Read-only all the way down: the loaded config is deep-frozen. */
type DeepReadonly<T> = T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

export type Config = DeepReadonly<{
  /** Absolute path of the file this came from. */
  file: string;
} & z.output<typeof ConfigFileSchema>>;

export type Settings = Config['settings'];
export type TlsSettings = Settings['tls'];
/** A certificate the user brings (`cert_file` + `key_file`). */
export type CertificateFiles = TlsSettings['certificates'][number];
export type ServiceConfig = Config['services'][string];
export type RoutingConfig = Config['routing'];
export type Isolation = ServiceConfig['isolation'];
export type RestartPolicy = ServiceConfig['restart'];
