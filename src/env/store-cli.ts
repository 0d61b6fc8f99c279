/** `shipshape env set|unset|list|pull|…` (filled in by the env-store work). */
import type { Command } from 'commander';
import type { CliContext } from '../core/module.js';

export function registerEnvStore(_env: Command, _ctx: CliContext): void {}
