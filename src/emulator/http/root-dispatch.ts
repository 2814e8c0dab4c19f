import type { EmulatorContext } from '../context';
import { smsVoiceJsonAction } from '../sms/api';
import { snsQueryAction } from '../sns/query-api';
import { AwsError } from './aws-errors';
import type { Router } from './router';

/**
 * `POST /` is shared by two protocols: awsJson1_0 services name the operation in `X-Amz-Target`
 * (pinpoint-sms-voice-v2), AWS query services in the form body's `Action` (SNS).
 */
export function registerRootDispatch(router: Router, ctx: EmulatorContext): void {
  router.add('POST', '/', 'aws', (req) => {
    const target = req.headers['x-amz-target'];
    if (typeof target === 'string') return smsVoiceJsonAction(ctx, target, req);
    const form = new URLSearchParams(req.body.toString('utf8'));
    if (form.has('Action')) return snsQueryAction(ctx, form);
    throw new AwsError(
      'UnknownOperationException',
      'No operation matches POST / (no X-Amz-Target or Action)',
    );
  });
}
