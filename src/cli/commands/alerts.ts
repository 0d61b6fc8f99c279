/** `shipshape alerts …` commands. (Being built.) */
import type { Command } from 'commander';

export function registerAlertsCommands(_program: Command): void {}
