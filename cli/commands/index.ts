/** Every `mlops` command; add a new command module here. */
import type { CliCommand } from '../command';
import { demoCommand } from './demo';
import { dlqCommand } from './dlq';
import { localCommand } from './local';
import { monitorCommand } from './monitor';
import { profileCommand } from './profile';

/** Every command, in the order the help lists them. */
export const COMMANDS: readonly CliCommand[] = [
  localCommand,
  demoCommand,
  profileCommand,
  monitorCommand,
  dlqCommand,
];
