/** Every workflow the worker runs; the bundler starts here. */
export { campaignWorkflow } from './campaign';
export { numberWorkflow } from './number';
export { onboardingWorkflow } from './onboarding';
