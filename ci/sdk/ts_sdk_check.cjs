// Drives `msgbatch-mcp mock` with the official TypeScript SDK (@anthropic-ai/sdk), unmodified, as a
// user would. Usage: node ts_sdk_check.cjs BASE_URL  (BASE_URL as given to the SDK:
// http://127.0.0.1:PORT), with NODE_PATH pointing at the node_modules holding the SDK.
//
// Creates batches, lists them with auto-pagination, cancels one, retrieves it until it has ended,
// reads its results, deletes it, and checks a 404 and two 400s. Every check prints a line; the last
// line says "N passed, N failed"; the exit status is non-zero when any check failed.
'use strict';

const Anthropic = require('@anthropic-ai/sdk');
const sdkVersion = require('@anthropic-ai/sdk/version').VERSION;

const baseURL = process.argv[2];
let passed = 0;
let failed = 0;

function check(name, condition, detail) {
  if (condition) {
    passed += 1;
    console.log(`  ok    ${name}`);
  } else {
    failed += 1;
    console.log(`  FAIL  ${name} ${detail === undefined ? '' : JSON.stringify(detail)}`);
  }
}

function requests(n, prefix) {
  return Array.from({ length: n }, (_, i) => ({
    custom_id: `${prefix}-${i}`,
    params: {
      model: 'claude-sonnet-4-5',
      max_tokens: 64,
      messages: [{ role: 'user', content: `Question ${i}` }],
    },
  }));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function expectError(name, ErrorClass, status, kind, call, extra) {
  try {
    await call();
    check(name, false, 'no error');
  } catch (e) {
    const ok =
      e instanceof ErrorClass &&
      e.status === status &&
      e.error?.error?.type === kind &&
      (extra ? extra(e) : true);
    check(name, ok, { status: e.status, error: e.error, message: e.message });
  }
}

async function main() {
  console.log(`@anthropic-ai/sdk ${sdkVersion} (Node ${process.version}), against ${baseURL}`);
  // Only what a user passes: a key and the base URL. No extra headers, no patches.
  const client = new Anthropic({ apiKey: 'sk-ant-sdk-check-not-a-real-key', baseURL });
  const batches = client.messages.batches;

  // create
  const big = await batches.create({ requests: requests(200, 'big') });
  check('create answers an in_progress message_batch',
    big.type === 'message_batch' && big.processing_status === 'in_progress', big);
  check('create: all requests under processing', big.request_counts.processing === 200,
    big.request_counts);
  const small = [];
  for (let k = 0; k < 4; k += 1) {
    small.push((await batches.create({ requests: requests(2, `s${k}`) })).id);
  }

  // list with auto-pagination
  const seen = [];
  for await (const batch of batches.list({ limit: 2 })) seen.push(batch.id);
  const unique = new Set(seen);
  check('list auto-paginates over every batch without duplicates',
    unique.size === seen.length && [big.id, ...small].every((id) => unique.has(id)), seen);
  const firstPage = await batches.list({ limit: 2 });
  check('list: a page of 2 with has_more', firstPage.data.length === 2 && firstPage.has_more,
    firstPage.data.length);
  check('list: newest first', seen.indexOf(small[3]) < seen.indexOf(big.id), seen);
  const { response } = await batches.list({ limit: 1 }).withResponse();
  check('answers carry a request-id', (response.headers.get('request-id') || '').startsWith('req_'),
    response.headers.get('request-id'));

  // cancel
  const canceled = await batches.cancel(big.id);
  check('cancel answers canceling', canceled.processing_status === 'canceling', canceled);
  check('cancel: cancel_initiated_at set', canceled.cancel_initiated_at !== null, canceled);

  // retrieve until ended
  const deadline = Date.now() + 120_000;
  let batch = await batches.retrieve(big.id);
  const moved = [];
  while (batch.processing_status !== 'ended' && Date.now() < deadline) {
    if (batch.request_counts.processing !== 200) moved.push(batch.request_counts);
    await sleep(200);
    batch = await batches.retrieve(big.id);
  }
  check('counts stay under processing until the end', moved.length === 0, moved[0]);
  check('retrieve until ended', batch.processing_status === 'ended', batch);
  const c = batch.request_counts;
  const total = c.processing + c.succeeded + c.errored + c.canceled + c.expired;
  check('ended: counts settled and add up', c.processing === 0 && total === 200, c);
  check('ended: results_url set', Boolean(batch.results_url), batch);

  // results
  const results = [];
  for await (const line of await batches.results(big.id)) results.push(line);
  const ids = new Set(results.map((r) => r.custom_id));
  check('results: one per request',
    results.length === 200 && ids.size === 200 && ids.has('big-0') && ids.has('big-199'),
    results.length);
  const kinds = {};
  for (const r of results) kinds[r.result.type] = (kinds[r.result.type] || 0) + 1;
  check('results agree with the counts',
    (kinds.succeeded || 0) === c.succeeded && (kinds.errored || 0) === c.errored &&
      (kinds.canceled || 0) === c.canceled, { kinds, c });
  const succeeded = results.find((r) => r.result.type === 'succeeded');
  check('a succeeded result holds a message',
    succeeded === undefined || succeeded.result.message.role === 'assistant', succeeded);

  // 400: too late to cancel
  await expectError('cancel of an ended batch is a 400 invalid_request_error',
    Anthropic.BadRequestError, 400, 'invalid_request_error', () => batches.cancel(big.id));

  // delete
  const deleted = await batches.delete(big.id);
  check('delete answers message_batch_deleted',
    deleted.id === big.id && deleted.type === 'message_batch_deleted', deleted);

  // 404
  await expectError('retrieve of a deleted batch is a 404 not_found_error',
    Anthropic.NotFoundError, 404, 'not_found_error', () => batches.retrieve(big.id));
  await expectError('retrieve of an unknown batch is a 404 not_found_error',
    Anthropic.NotFoundError, 404, 'not_found_error',
    () => batches.retrieve('msgbatch_01NoSuchBatch0000000000'));

  // 400: a bad create body
  const bad = requests(1, 'bad');
  bad[0].params.max_tokens = 0;
  await expectError('a bad create body is a 400 naming the field', Anthropic.BadRequestError, 400,
    'invalid_request_error', () => batches.create({ requests: bad }),
    (e) => String(e.error?.error?.message).includes('requests.0.params.max_tokens'));
}

main()
  .catch((e) => {
    failed += 1;
    console.log(`  FAIL  unexpected ${e && e.name}: ${e && e.message}`);
  })
  .finally(() => {
    console.log(`typescript sdk: ${passed} passed, ${failed} failed`);
    process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
  });
