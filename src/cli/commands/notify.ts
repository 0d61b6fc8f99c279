/** `shipshape notify …` commands. (Being built.) */
import type { Command } from 'commander';

export function registerNotifyCommands(_program: Command): void {}
