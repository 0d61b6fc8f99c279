/** `shipshape env check` (filled in by the env-check work). */
import type { Command } from 'commander';
import type { CliContext } from '../core/module.js';

export function registerEnvCheck(_env: Command, _ctx: CliContext): void {}
