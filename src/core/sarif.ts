/**
 * What every SARIF 2.1.0 report Shipshape writes shares (the secret scan's, the database audit's):
 * the log's envelope and the tool's version. Each report builds its own run (rules, results,
 * locations); see https://docs.oasis-open.org/sarif/sarif/v2.1.0/.
 */

/** SARIF's result levels, from the most to the least severe. */
export type SarifLevel = 'error' | 'warning' | 'note';

/** A SARIF 2.1.0 log of the given runs, as pretty-printed JSON with a final newline. */
export function sarifLog(runs: readonly object[]): string {
  return `${JSON.stringify({ $schema: 'https://json.schemastore.org/sarif-2.1.0.json', version: '2.1.0', runs }, null, 2)}\n`;
}
