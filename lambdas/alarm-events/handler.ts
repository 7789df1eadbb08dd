/**
 * Alarm-events handler: "CloudWatch Alarm State Change" from EventBridge. Thin: take the alarm
 * name, run ProcessAlarmChange (which reads the alarm's current state itself).
 */
import type { MlopsContext } from '../../core/use-cases/context';
import { ProcessAlarmChange } from '../../core/use-cases/process-alarm-change';
import { createAwsContext } from '../shared/aws-context';
import { eventHandler } from '../shared/event-handler';
import { alarmStateChangeEvent, parseEvent } from '../shared/events';
import { lazy } from '../shared/lazy';
import { logger, traceInvocation } from '../shared/observability';

/**
 * Builds the handler around a context factory: the entry point below gives it the AWS context, the
 * local cloud its own. It returns ProcessAlarmChange's outcome, or `malformed` for an event of
 * another shape (logged and dropped: a retry cannot fix it).
 */
export function createAlarmEventsHandler(getContext: () => MlopsContext) {
  return eventHandler('AlarmEvent', (event) => {
    const parsed = parseEvent(alarmStateChangeEvent, event, 'CloudWatch Alarm State Change');
    return new ProcessAlarmChange(getContext()).execute(parsed.detail.alarmName, parsed.detail.state.reason);
  });
}

/** The Lambda entry point, one X-Ray subsegment per invocation. */
export const handler = traceInvocation(createAlarmEventsHandler(lazy(() => createAwsContext(logger))));
