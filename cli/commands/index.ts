/** Every `mlops` command; add a new command module here. */
import type { CliCommand } from '../command';
import { demoCommand } from './demo';
import { dlqCommand } from './dlq';
import { createIncidentCommand, createIncidentsCommand } from './incidents';
import { localCommand } from './local';
import { createModelsCommand } from './models';
import { monitorCommand } from './monitor';
import {
  createApproveCommand,
  createRejectCommand,
  createRetrainCommand,
  createRollbackCommand,
} from './operate';
import { profileCommand } from './profile';
import { createUploadCommand } from './upload';
import { createShowCommand, createVersionsCommand } from './versions';

/** Every command, in the order the help lists them: the local cloud, then the operator's. */
export const COMMANDS: readonly CliCommand[] = [
  localCommand,
  demoCommand,
  profileCommand,
  monitorCommand,
  createModelsCommand(),
  createVersionsCommand(),
  createShowCommand(),
  createApproveCommand(),
  createRejectCommand(),
  createRollbackCommand(),
  createRetrainCommand(),
  createIncidentsCommand(),
  createIncidentCommand(),
  createUploadCommand(),
  dlqCommand,
];
