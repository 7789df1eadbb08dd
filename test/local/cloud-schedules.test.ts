import { describe, expect, it } from 'vitest';
import { scheduledEvent as monitorScheduledEvent } from '../../lambdas/monitor/handler';
import { parseEvent } from '../../lambdas/shared/events';
import { scheduledEvent } from '../../local/cloud-schedules';
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../../local/contracts';
import sample from '../fixtures/events/aws-samples/eventbridge-scheduled-event.json';
import { anyString } from '../support/matchers';

describe('scheduledEvent', () => {
  it("is AWS's sample Scheduled Event, but for the id, account, region, rule and time", () => {
    const event = scheduledEvent('drift-monitor', new Date(Date.UTC(2019, 2, 1, 1, 23, 45, 678)));
    expect(event).toEqual({
      ...sample,
      id: anyString(),
      account: LOCAL_ACCOUNT,
      region: LOCAL_REGION,
      resources: [`arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT}:rule/mlops-drift-monitor`],
    });
    expect(event.time).toBe(sample.time);
  });

  it("has EventBridge's time (to the second) when stamped now, and the monitor reads it", () => {
    const event = scheduledEvent('drift-monitor');
    expect(event.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    const parsed = parseEvent(monitorScheduledEvent, event, 'EventBridge Scheduled Event');
    expect(new Date(parsed.time).getMilliseconds()).toBe(0);
  });
});
