/**
 * The contract tests' EventBridge pattern matcher: each operator our rules use, matching and not
 * matching, and agreement with the local cloud's bus on every case.
 */
import { describe, expect, it } from 'vitest';
import { matches as localBusMatches } from '../../../local/event-bus';
import { matchesPattern, type EventPattern } from './event-pattern';

const s3Event = {
  source: 'aws.s3',
  'detail-type': 'Object Created',
  resources: ['arn:aws:s3:::mlops-data', 'arn:aws:s3:::other'],
  detail: {
    bucket: { name: 'mlops-data' },
    object: { key: 'datasets/churn/customers.csv', size: 5 },
    reason: 'PutObject',
  },
};

const datasetsRule: EventPattern = {
  source: ['aws.s3'],
  'detail-type': ['Object Created'],
  detail: { bucket: { name: ['mlops-data'] }, object: { key: [{ prefix: 'datasets/' }] } },
};

const withDetail = (detail: Record<string, unknown>) => ({
  ...s3Event,
  detail: { ...s3Event.detail, ...detail },
});

/** [case, pattern, event, expected] */
const cases: [string, EventPattern, unknown, boolean][] = [
  ['the datasets rule matches a dataset drop', datasetsRule, s3Event, true],
  [
    'an event for another bucket',
    datasetsRule,
    withDetail({ bucket: { name: 'someone-elses-bucket' } }),
    false,
  ],
  [
    'a key outside datasets/',
    datasetsRule,
    withDetail({ object: { key: 'models/churn/config.json' } }),
    false,
  ],
  [
    'a key that only contains datasets/',
    datasetsRule,
    withDetail({ object: { key: 'x/datasets/a.csv' } }),
    false,
  ],
  ['prefix is case-sensitive', datasetsRule, withDetail({ object: { key: 'Datasets/churn/a.csv' } }), false],
  ['another source', datasetsRule, { ...s3Event, source: 'aws.sagemaker' }, false],
  ['another detail-type', datasetsRule, { ...s3Event, 'detail-type': 'Object Deleted' }, false],
  ['a missing detail', datasetsRule, { source: 'aws.s3', 'detail-type': 'Object Created' }, false],
  [
    'a job without the prefix',
    { detail: { TrainingJobName: [{ prefix: 'mlops-' }] } },
    { detail: { TrainingJobName: 'churn-v1-a1b2' } },
    false,
  ],
  [
    'a job of a stack whose prefix merely starts the same way',
    { detail: { TrainingJobName: [{ prefix: 'mlops-' }] } },
    { detail: { TrainingJobName: 'mlopsx-churn-v1-a1b2' } },
    false,
  ],
  [
    'a job with the prefix',
    { detail: { TrainingJobName: [{ prefix: 'mlops-' }] } },
    { detail: { TrainingJobName: 'mlops-churn-v1-a1b2' } },
    true,
  ],
  [
    'exact values are alternatives (OR)',
    { source: ['aws.s3', 'aws.events'] },
    { source: 'aws.events' },
    true,
  ],
  ['exact values compare by type', { detail: { size: ['5'] } }, { detail: { size: 5 } }, false],
  ['numbers match numbers', { detail: { size: [5] } }, { detail: { size: 5 } }, true],
  [
    'an array in the event matches when one element does',
    { resources: ['arn:aws:s3:::other'] },
    s3Event,
    true,
  ],
  ['an array in the event with no matching element', { resources: ['arn:aws:s3:::third'] }, s3Event, false],
  ['fields the pattern does not name are ignored', { source: ['aws.s3'] }, s3Event, true],
  ['suffix', { detail: { object: { key: [{ suffix: '.csv' }] } } }, s3Event, true],
  ['suffix, not matching', { detail: { object: { key: [{ suffix: '.json' }] } } }, s3Event, false],
  ['anything-but a value', { detail: { reason: [{ 'anything-but': 'CopyObject' }] } }, s3Event, true],
  [
    'anything-but the value itself',
    { detail: { reason: [{ 'anything-but': 'PutObject' }] } },
    s3Event,
    false,
  ],
  [
    'anything-but a list',
    { detail: { reason: [{ 'anything-but': ['CopyObject', 'PutObject'] }] } },
    s3Event,
    false,
  ],
  [
    'anything-but a prefix',
    { detail: { alarmName: [{ 'anything-but': { prefix: 'ServerlessMlops-ops-' } }] } },
    { detail: { alarmName: 'mlops-churn-error-rate' } },
    true,
  ],
  [
    'anything-but a prefix, excluded',
    { detail: { alarmName: [{ 'anything-but': { prefix: 'ServerlessMlops-ops-' } }] } },
    { detail: { alarmName: 'ServerlessMlops-ops-ingest-dlq' } },
    false,
  ],
  [
    'anything-but needs the field to be present',
    { detail: { missing: [{ 'anything-but': 'x' }] } },
    s3Event,
    false,
  ],
  ['exists: true on a present field', { detail: { reason: [{ exists: true }] } }, s3Event, true],
  ['exists: true on a missing field', { detail: { missing: [{ exists: true }] } }, s3Event, false],
  ['exists: false on a missing field', { detail: { missing: [{ exists: false }] } }, s3Event, true],
  ['exists: false on a present field', { detail: { reason: [{ exists: false }] } }, s3Event, false],
  [
    'exists: false under a missing object',
    { detail: { nothing: { here: [{ exists: false }] } } },
    s3Event,
    true,
  ],
  ['exists: true does not match an object', { detail: { bucket: [{ exists: true }] } }, s3Event, false],
  ['a leaf does not match an object in the event', { detail: { bucket: ['mlops-data'] } }, s3Event, false],
  [
    'nested patterns need the nested object',
    { detail: { bucket: { name: ['mlops-data'] } } },
    { detail: { bucket: 'mlops-data' } },
    false,
  ],
  ['an empty pattern matches anything', {}, s3Event, true],
];

describe('matchesPattern', () => {
  it.each(cases)('%s', (_name, pattern, event, expected) => {
    expect(matchesPattern(pattern, event)).toBe(expected);
  });

  it.each(cases)('agrees with the local event bus: %s', (_name, pattern, event, expected) => {
    expect(localBusMatches(pattern, event)).toBe(expected);
  });

  it('refuses operators and shapes it does not implement instead of guessing', () => {
    expect(() => matchesPattern({ detail: { size: [{ numeric: ['>', 0] }] } }, s3Event)).toThrow(
      'pattern field detail.size: operator numeric is not supported here',
    );
    expect(() => matchesPattern({ source: 'aws.s3' }, s3Event)).toThrow(
      'pattern field source must be an array or an object, got "aws.s3"',
    );
    expect(() => matchesPattern({ source: [] }, s3Event)).toThrow('pattern field source is an empty array');
  });
});
