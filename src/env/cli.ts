/** `shipshape env …`: one command group; `check` (check-cli.ts) and the store's commands (store-cli.ts). */
import type { Command } from 'commander';
import type { CliContext } from '../core/module.js';
import { registerEnvCheck } from './check-cli.js';
import { registerEnvStore } from './store-cli.js';

export function registerEnvCommands(program: Command, ctx: CliContext): void {
  const env = program.command('env').description('environment variables: check them against their schema, keep them encrypted per service and environment, track rotation');
  registerEnvCheck(env, ctx);
  registerEnvStore(env, ctx);
}
