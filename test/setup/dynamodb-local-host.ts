/**
 * The process that holds the test run's shared DynamoDB Local (test/setup/dynamodb-local.global.ts
 * starts it with `node --import tsx`): starts it in memory on a free port ({@link startLocalDynamoDb},
 * trying again if another process takes the port first), prints `ready <endpoint>` (or
 * `failed <reason>`), and stops it when its stdin ends, then exits. Its own process so that the
 * service's timers (a stop waits up to 10 s) never hold the vitest process open; if vitest dies, the
 * pipe closes and the JVM goes with this process (the service's watchdog).
 */
import { startLocalDynamoDb, type LocalDynamoDb } from '../../local/services/dynamodb-local';

async function start(): Promise<LocalDynamoDb> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      return await startLocalDynamoDb({ port: 0 });
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

try {
  const local = await start();
  process.stdin.on('end', () => {
    void local.stop().finally(() => process.exit(0));
  });
  process.stdin.resume();
  process.stdout.write(`ready ${local.endpoint}\n`);
} catch (error) {
  const reason = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stdout.write(`failed ${reason.replace(/\n/g, '\\n')}\n`);
  process.exit(1);
}
