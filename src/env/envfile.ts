/**
 * Writing .env files that dotenv (and the shells' `set -a; . .env`) read back unchanged: a value
 * is written bare when it is plain, in single quotes (literal) when it has no single quote and no
 * line break, in double quotes (dotenv keeps line breaks inside them) when it has no double quote
 * and no backslash, in backticks otherwise. A value none of these can carry is refused, naming it.
 */
import { ServiceError } from '../core/errors.js';

const BARE = /^[A-Za-z0-9_./:@+,%=-]*$/;

export function quoteValue(name: string, value: string): string {
  if (BARE.test(value)) return value;
  if (!/['\r\n]/.test(value)) return `'${value}'`;
  if (!/["\\]/.test(value)) return `"${value}"`;
  if (!/[`\\]/.test(value)) return `\`${value}\``;
  throw new ServiceError('invalid', `the value of ${name} holds quotes of every kind and backslashes, which a .env file cannot carry unchanged; pull it with --json instead`);
}

export function formatEnvFile(values: Record<string, string>, header?: string): string {
  const lines = header ? header.split('\n').map((l) => `# ${l}`) : [];
  for (const [name, value] of Object.entries(values)) lines.push(`${name}=${quoteValue(name, value)}`);
  return `${lines.join('\n')}\n`;
}

export { writePrivateFile } from '../core/files.js';
