// The stack's CloudWatch dashboard body (serverless.yml: `${file(./scripts/dashboard.js):body}`), as
// an Fn::Sub string so the region and the HTTP API's id resolve per stage; every other name is the
// stage's own (service, stage, queue and function names as serverless.yml builds them).
// docs/OPERATIONS.md says what each widget shows; tests/deploy checks the body once packaged.
'use strict';

const FUNCTIONS = [
  'postConfirmation', 'postAuthentication', 'api', 'attributeSync', 'reconcile', 'userEvents', 'repairUser',
];
// The writer paths of MirrorFreshness that run as Lambdas (the backfill CLI reports in its summary).
const PATHS = ['post_confirmation', 'post_authentication', 'attribute_sync', 'reconcile', 'read_through'];

const widget = (title, metrics, { stat = 'Sum', x, y, width = 8, height = 6, extra = {} } = {}) => ({
  type: 'metric',
  x, y, width, height,
  properties: { title, region: '${AWS::Region}', view: 'timeSeries', stacked: false, stat, period: 300, metrics, ...extra },
});

async function body({ resolveVariable }) {
  const service = await resolveVariable('self:service');
  const stage = await resolveVariable('sls:stage');
  const ns = `CognitoAttributeMirror/${stage}`;
  const app = (name, extra = {}) => [ns, name, 'service', 'cognito-attribute-mirror', extra];
  const fn = (key) => `${service}-${stage}-${key}`;
  const queue = (name) => `${service}-${stage}-${name}`;
  const api = (name, extra = {}) => ['AWS/ApiGateway', name, 'ApiId', '${HttpApi}', extra];
  const freshness = (stat) =>
    PATHS.map((path) => [ns, 'MirrorFreshness', 'path', path, 'service', 'cognito-attribute-mirror', { stat, label: path }]);

  const widgets = [
    widget('Sign-ups and sign-ins mirrored', [
      app('MirrorWrite', { label: 'trigger writes landed' }),
      ['AWS/Lambda', 'Invocations', 'FunctionName', fn('postConfirmation'), { label: 'sign-ups (PostConfirmation)' }],
      ['AWS/Lambda', 'Invocations', 'FunctionName', fn('postAuthentication'), { label: 'sign-ins (PostAuthentication)' }],
    ], { x: 0, y: 0 }),
    widget('Write failures and skips', [
      app('MirrorWriteFailed'), app('MirrorWriteSkipped'), app('TriggerMalformedEvent'),
      app('SyncDependencyFailed'), app('SyncUnexpectedError'), app('SyncMalformedRecord'), app('ReconcileFailed'),
    ], { x: 8, y: 0 }),
    widget('Drift found by the last reconcile', [
      app('ReconcileDrift', { label: 'drift of a complete pass' }), app('DriftMissing'), app('DriftStale'),
      app('DriftTombstoned'), app('DriftOrphaned'), app('ReconcileIncomplete'),
    ], { x: 16, y: 0, stat: 'Maximum', extra: { period: 3600 } }),
    widget('Freshness p50 (ms): change in Cognito -> row landed', freshness('p50'), { x: 0, y: 6, stat: 'p50' }),
    widget('Freshness p99 (ms): change in Cognito -> row landed', freshness('p99'), { x: 8, y: 6, stat: 'p99' }),
    widget('User event lag (ms): row written -> PutEvents accepted', [
      app('UserEventLag', { stat: 'p50', label: 'p50' }), app('UserEventLag', { stat: 'p99', label: 'p99' }),
    ], { x: 16, y: 6, stat: 'p99' }),
    widget('Oldest unprocessed change (s)', [
      ['AWS/SQS', 'ApproximateAgeOfOldestMessage', 'QueueName', queue('sync'), { label: 'sync queue' }],
      ['AWS/Lambda', 'IteratorAge', 'FunctionName', fn('userEvents'), { label: 'table stream (ms)', yAxis: 'right' }],
    ], { x: 0, y: 12, stat: 'Maximum' }),
    widget('Dead-letter queue depths', [
      ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', queue('sync-dlq'), { label: 'sync' }],
      ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', queue('reconcile-dlq'), { label: 'reconcile' }],
      ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', queue('user-events-dlq'), { label: 'user events' }],
    ], { x: 8, y: 12, stat: 'Maximum' }),
    widget('Events published', [
      app('UserEventPublished'), app('UserEventFailed'), app('UserEventPutFailed'), app('UserEventMalformedRecord'),
    ], { x: 16, y: 12 }),
    widget('API requests, 4xx and 5xx', [api('Count'), api('4xx'), api('5xx')], { x: 0, y: 18 }),
    widget('API latency (ms)', [
      api('Latency', { stat: 'p50', label: 'p50' }), api('Latency', { stat: 'p99', label: 'p99' }),
    ], { x: 8, y: 18, stat: 'p99' }),
    widget('Cognito throttles and failures seen by the mirror', [
      app('SyncCognitoThrottled'), app('ReconcileThrottles'), app('RepairCognitoFailed'),
    ], { x: 16, y: 18 }),
    widget('Lambda errors per function',
      FUNCTIONS.map((key) => ['AWS/Lambda', 'Errors', 'FunctionName', fn(key), { label: key }]), { x: 0, y: 24, width: 12 }),
    widget('Lambda throttles per function',
      FUNCTIONS.map((key) => ['AWS/Lambda', 'Throttles', 'FunctionName', fn(key), { label: key }]), { x: 12, y: 24, width: 12 }),
  ];
  return { 'Fn::Sub': JSON.stringify({ widgets }) };
}

module.exports = { body, FUNCTIONS, PATHS };
