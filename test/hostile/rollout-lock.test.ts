/**
 * The hostile suite, the rollout lock's part (issue 16, item 1): 50 concurrent uploads for 5 models
 * once left a model with two versions DEPLOYING, because `startDeployment` wrote the model's
 * challenger without a condition on it. Here the DynamoDB store on DynamoDB Local is raced by many
 * deployers at once, each with its own client (as separate Lambda invocations are): for every
 * model exactly one takes the lock, the others are refused with nothing written and stay APPROVED,
 * and when the holder's rollout ends the next race has again exactly one winner, until every
 * version has rolled out. The same race on both stores is in the contract suite
 * (test/support/registry-store-contract.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbRegistryStore } from '../../adapters/dynamodb/dynamodb-registry-store';
import type { TransitionRequest } from '../../core/ports/registry-store';
import { registeredIn, transition, uniqueModel } from '../support/registry-store-contract-fixtures';
import { createRegistryTable, startDynamoDbLocal, type DynamoDbLocal } from '../support/dynamodb-local';

const TABLE = 'hostile-rollout-lock';
const MODELS = 5;
const VERSIONS_PER_MODEL = 10;
/** Deployers with a client each, as many Lambda invocations at once. */
const DEPLOYERS = 5;

let local: DynamoDbLocal;
const extra: DynamoDbLocal[] = [];
let stores: DynamoDbRegistryStore[];

beforeAll(async () => {
  local = await startDynamoDbLocal();
  await createRegistryTable(local.client, TABLE);
  for (let i = 1; i < DEPLOYERS; i++) extra.push(await startDynamoDbLocal());
  // Many transactions on one model item at once conflict (TransactionConflict): give the store's
  // bounded retry room enough that a conflict never surfaces as an error in this race.
  stores = [local, ...extra].map(
    (l) => new DynamoDbRegistryStore(l.documentClient, TABLE, { maxAttempts: 30 }),
  );
});

afterAll(async () => {
  for (const l of extra) await l.stop();
  await local?.stop();
});

const start = (model: string, version: number): TransitionRequest =>
  transition(model, version, ['APPROVED'], 'DEPLOYING');

describe('the rollout lock under many concurrent deployers (DynamoDB Local)', () => {
  it(`${MODELS} models × ${VERSIONS_PER_MODEL} approved versions: one rollout at a time, each version in turn`, async () => {
    const [store] = stores as [DynamoDbRegistryStore];
    const models = Array.from({ length: MODELS }, () => uniqueModel('hostile-lock'));
    const waiting = new Map<string, number[]>();
    for (const model of models) {
      const versions: number[] = [];
      for (let i = 0; i < VERSIONS_PER_MODEL; i++)
        versions.push(await registeredIn(store, model, `ds${i}`, 'APPROVED'));
      waiting.set(model, versions);
    }
    const rolledOut = new Map<string, number[]>(models.map((m) => [m, []]));

    for (let round = 0; round < VERSIONS_PER_MODEL; round++) {
      // Every waiting version of every model tries to take its model's lock, all at once, each
      // request through another deployer's client.
      const attempts = models.flatMap((model) => waiting.get(model)!.map((version) => ({ model, version })));
      const results = await Promise.all(
        attempts.map(({ model, version }, i) =>
          stores[i % DEPLOYERS]!.startDeployment(start(model, version)),
        ),
      );

      for (const model of models) {
        const won = attempts.filter((a, i) => a.model === model && results[i]).map((a) => a.version);
        expect(won, `round ${round}, ${model}: winners`).toHaveLength(1);
        const winner = won[0]!;
        const versions = await store.listVersions(model);
        expect(
          versions.filter((v) => v.status === 'DEPLOYING').map((v) => v.version),
          `round ${round}, ${model}: DEPLOYING`,
        ).toEqual([winner]);
        expect((await store.getModel(model))?.challenger).toBe(winner);
        const losers = waiting.get(model)!.filter((v) => v !== winner);
        for (const loser of losers)
          expect(
            versions.find((v) => v.version === loser)?.status,
            `round ${round}, ${model} v${loser}`,
          ).toBe('APPROVED');
        // One DEPLOYING audit line per rollout that started: a refused start wrote none.
        const starts = (await store.listAudit(model)).filter((a) => a.to === 'DEPLOYING');
        expect(starts.map((a) => a.version)).toEqual([...rolledOut.get(model)!, winner]);

        // A repeat by the holder while the others race again: false, nothing doubled.
        const again = await Promise.all([
          stores[1 % DEPLOYERS]!.startDeployment(start(model, winner)),
          ...losers.map((loser, i) => stores[i % DEPLOYERS]!.startDeployment(start(model, loser))),
        ]);
        expect(
          again.every((ok) => !ok),
          `round ${round}, ${model}: a start while the lock is held`,
        ).toBe(true);
        expect((await store.getModel(model))?.challenger).toBe(winner);
        expect((await store.listAudit(model)).filter((a) => a.to === 'DEPLOYING')).toHaveLength(
          starts.length,
        );

        // The holder's rollout ends (alternately promoted and failed): the lock is free again.
        const champion = (await store.getModel(model))?.champion;
        const { audit } = transition(model, winner, ['DEPLOYING'], 'PRODUCTION');
        const ended =
          round % 2 === 0
            ? await store.promote({
                model,
                version: winner,
                ...(champion !== undefined ? { previousChampion: champion } : {}),
                at: audit.at,
                audit,
              })
            : await store.endFailedDeployment(transition(model, winner, ['DEPLOYING'], 'ROLLED_BACK'));
        expect(ended, `round ${round}, ${model}: the rollout of v${winner} ends`).toBe(true);
        expect(await store.getModel(model)).not.toHaveProperty('challenger');
        rolledOut.get(model)!.push(winner);
        waiting.set(model, losers);
      }
    }

    for (const model of models) {
      expect(waiting.get(model)).toEqual([]);
      expect(new Set(rolledOut.get(model))).toHaveProperty('size', VERSIONS_PER_MODEL);
      const statuses = (await store.listVersions(model)).map((v) => v.status);
      expect(statuses).not.toContain('APPROVED');
      expect(statuses).not.toContain('DEPLOYING');
    }
  });
});
