/**
 * What every SARIF 2.1.0 report Shipshape writes shares (the secret scan's, the database audit's):
 * the log's envelope and the tool's version. Each report builds its own run (rules, results,
 * locations); see https://docs.oasis-open.org/sarif/sarif/v2.1.0/.
 */
import { readFileSync } from 'node:fs';

/** SARIF's result levels, from the most to the least severe. */
export type SarifLevel = 'error' | 'warning' | 'note';

/** Shipshape's version from its package.json (src/core and dist/core sit two levels below it). */
export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** A SARIF 2.1.0 log of the given runs, as pretty-printed JSON with a final newline. */
export function sarifLog(runs: readonly object[]): string {
  return `${JSON.stringify({ $schema: 'https://json.schemastore.org/sarif-2.1.0.json', version: '2.1.0', runs }, null, 2)}\n`;
}
