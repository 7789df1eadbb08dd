import { describe, expect, it } from 'vitest';
import { cloudEvent, eventTime, LOCAL_ACCOUNT, LOCAL_REGION, localTime } from '../../local/contracts';
import scheduleSample from '../fixtures/events/aws-samples/eventbridge-scheduled-event.json';
import s3Sample from '../fixtures/events/aws-samples/s3-object-created.json';
import { stringMatching } from '../support/matchers';

/** The `time` of AWS's sample events (all but the endpoint sample's, which is epoch milliseconds). */
const EVENTBRIDGE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

const parts = {
  detailType: 'Object Created',
  source: 'aws.s3',
  resources: ['arn:aws:s3:::b'],
  detail: { version: '0' },
};

describe('eventTime', () => {
  it("writes EventBridge's format: UTC, to the second, milliseconds dropped (not rounded)", () => {
    expect(eventTime(new Date(Date.UTC(2019, 11, 1, 0, 0, 0, 999)))).toBe('2019-12-01T00:00:00Z');
    expect(eventTime(new Date('2024-05-01T10:11:12.000+02:00'))).toBe('2024-05-01T08:11:12Z');
  });

  it("matches the format of AWS's sample events", () => {
    expect(scheduleSample.time).toMatch(EVENTBRIDGE_TIME);
    expect(s3Sample.time).toMatch(EVENTBRIDGE_TIME);
    expect(eventTime(new Date(scheduleSample.time))).toBe(scheduleSample.time);
    expect(eventTime(new Date(s3Sample.time))).toBe(s3Sample.time);
  });

  it('refuses an invalid date', () => {
    expect(() => eventTime(new Date('not a date'))).toThrow(RangeError);
  });
});

describe('cloudEvent', () => {
  it("puts the parts in EventBridge's envelope, with the local account and region", () => {
    const event = cloudEvent({ ...parts, time: new Date(Date.UTC(2026, 0, 1, 12, 0, 0, 345)) });
    expect(event).toEqual({
      version: '0',
      id: stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      'detail-type': 'Object Created',
      source: 'aws.s3',
      account: LOCAL_ACCOUNT,
      time: '2026-01-01T12:00:00Z',
      region: LOCAL_REGION,
      resources: ['arn:aws:s3:::b'],
      detail: { version: '0' },
    });
    expect(LOCAL_ACCOUNT).toMatch(/^\d{12}$/);
    expect(LOCAL_REGION).toBe('us-east-1');
  });

  it("has exactly the envelope's keys of AWS's sample events, in their order", () => {
    const keys = Object.keys(cloudEvent(parts));
    expect([...keys].sort()).toEqual(Object.keys(scheduleSample).sort());
    expect(keys).toEqual(Object.keys(s3Sample));
  });

  it('gives every event a fresh id, unless one is given', () => {
    const ids = new Set(Array.from({ length: 100 }, () => cloudEvent(parts).id));
    expect(ids.size).toBe(100);
    expect(cloudEvent({ ...parts, id: 'event-1' }).id).toBe('event-1');
  });

  it('stamps the event now, to the second, when no time is given', () => {
    const before = Math.floor(Date.now() / 1000) * 1000;
    const { time } = cloudEvent(parts);
    const after = Date.now();
    expect(time).toMatch(EVENTBRIDGE_TIME);
    expect(Date.parse(time)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(time)).toBeLessThanOrEqual(after);
  });

  it("copies the resources, so the caller's array cannot change the event", () => {
    const resources = ['arn:aws:s3:::b'];
    const event = cloudEvent({ ...parts, resources });
    resources.push('arn:aws:s3:::other');
    expect(event.resources).toEqual(['arn:aws:s3:::b']);
  });
});

describe('localTime', () => {
  it('scales simulated seconds into real milliseconds, and refuses a scale that is not positive', () => {
    expect(localTime().ms(2)).toBe(2000);
    expect(localTime(1000).ms(60)).toBe(60);
    expect(() => localTime(0)).toThrow(/time scale/);
    expect(() => localTime(Number.NaN)).toThrow(/time scale/);
  });
});
