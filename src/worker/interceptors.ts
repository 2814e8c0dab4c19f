import { TemporalFailure } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { withoutQueryParams } from '../shared/safe-error';

/**
 * An activity that fails on a database error fails without the statement's data: the error's message
 * becomes the failure's message in the workflow's history, which is in clear unless WA_CODEC_KEYS is set.
 * Failures the activity raised on purpose (ApplicationFailure and the like) pass as they are.
 */
export const activityErrorsWithoutQueryData: ActivityInterceptorsFactory = () => ({
  inbound: {
    async execute(input, next) {
      try {
        return await next(input);
      } catch (err) {
        if (err instanceof TemporalFailure) throw err;
        throw withoutQueryParams(err);
      }
    },
  },
});
