/**
 * Env templates (docs/configuration.md): `{name} {id} {data_dir} {port}` inside a service's env values.
 * load.ts refuses unknown variables; the runtime fills the known ones at spawn.
 * @module
 */

export const TEMPLATE_VARIABLES = ['name', 'id', 'data_dir', 'port'] as const;
export type TemplateVariable = (typeof TEMPLATE_VARIABLES)[number];

/** `name` is the service name; `data_dir` the server's data dir (not the instance's). */
export type TemplateValues = Readonly<Record<TemplateVariable, string | number>>;

// Only `{word}` is a variable; any other brace (JSON, `{}`, `{ a }`) is literal text.
const PLACEHOLDER = /\{(\w+)\}/g;

function isTemplateVariable(word: string): word is TemplateVariable {
  return (TEMPLATE_VARIABLES as readonly string[]).includes(word);
}

/** The `{word}` names in `template` that are not template variables, in order, without repeats. */
export function findUnknownVariables(template: string): string[] {
  const unknown = new Set<string>();
  for (const [, word] of template.matchAll(PLACEHOLDER)) {
    if (word !== undefined && !isTemplateVariable(word)) unknown.add(word);
  }
  return [...unknown];
}

/** Replaces every known `{variable}`; anything else is kept as written. */
export function interpolate(template: string, values: TemplateValues): string {
  return template.replace(PLACEHOLDER, (match, word: string) => (isTemplateVariable(word) ? String(values[word]) : match));
}
