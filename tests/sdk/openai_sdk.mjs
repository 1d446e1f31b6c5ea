// openai_sdk.mjs - drives a running imgapi server with the official OpenAI Node SDK.
//   node tests/sdk/openai_sdk.mjs BASE_URL API_KEY OUT_DIR
// Writes every image it receives under OUT_DIR and prints one JSON summary line per check on
// standard output; tests/sdk/run.py checks the images and the ledger. Exits 1 on the first
// failed expectation.
import OpenAI from 'openai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [, , base, apiKey, outDir] = process.argv;
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey, maxRetries: 0, timeout: 300000 });
let saved = 0;

function expect(cond, what) {
  if (!cond) throw new Error(`expectation failed: ${what}`);
}
function save(b64, ext) {
  const path = join(outDir, `img${saved++}.${ext}`);
  writeFileSync(path, Buffer.from(b64, 'base64'));
  return path;
}
function report(check, fields) {
  console.log(JSON.stringify({ check, ...fields }));
}

// 1. every parameter of the contract at once, and usage
const all = await client.images.generate({
  model: 'gpt-image-1-mini', prompt: 'two small yellow stars at the top on a blue background', n: 2,
  size: '1536x1024', quality: 'low', background: 'opaque', moderation: 'low', output_format: 'webp',
  output_compression: 80, user: 'sdk-test', stream: false, partial_images: 0,
});
expect(all.data.length === 2, 'two images');
expect(all.size === '1536x1024' && all.quality === 'low' && all.output_format === 'webp', 'echoed parameters');
expect(all.usage.input_tokens > 0 && all.usage.total_tokens === all.usage.input_tokens + all.usage.output_tokens, 'usage adds up');
expect(all.usage.input_tokens_details.text_tokens === all.usage.input_tokens, 'usage details');
report('every_parameter', { files: all.data.map((d) => save(d.b64_json, 'webp')), size: all.size, usage: all.usage });

// 2. defaults: size and quality auto are resolved and echoed
const def = await client.images.generate({ model: 'gpt-image-1-mini', prompt: 'a red circle on a white background' });
expect(def.data.length === 1 && def.size === '1024x1024' && ['low', 'medium', 'high'].includes(def.quality), 'auto resolved');
report('defaults', { files: [save(def.data[0].b64_json, 'png')], size: def.size, quality: def.quality, background: def.background });

// 3. transparent PNG
const tr = await client.images.generate({ model: 'gpt-image-1-mini', prompt: 'a large green triangle', background: 'transparent', output_format: 'png', size: '1024x1536', quality: 'medium' });
expect(tr.background === 'transparent', 'transparent echoed');
report('transparent', { files: [save(tr.data[0].b64_json, 'png')], size: tr.size });

// 4. errors come back as the SDK's typed errors
try {
  await client.images.generate({ model: 'gpt-image-1-mini', prompt: 'x', n: 11 });
  expect(false, 'n=11 refused');
} catch (e) {
  expect(e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === 'n', `BadRequestError for n, got ${e}`);
  report('bad_request', { status: e.status, param: e.param, code: e.code });
}
try {
  await new OpenAI({ baseURL: `${base}/v1`, apiKey: 'sk-wrong', maxRetries: 0 }).images.generate({ prompt: 'x' });
  expect(false, 'a wrong key refused');
} catch (e) {
  expect(e instanceof OpenAI.AuthenticationError && e.status === 401, `AuthenticationError, got ${e}`);
  report('unauthorized', { status: e.status, code: e.code });
}
try {
  await client.images.generate({ model: 'no-such-model', prompt: 'x' });
  expect(false, 'an unknown model refused');
} catch (e) {
  expect(e instanceof OpenAI.NotFoundError && e.status === 404, `NotFoundError, got ${e}`);
  report('not_found', { status: e.status, code: e.code });
}

// 5. streaming: partial images from the sampling previews, then the completed image with usage
const stream = await client.images.generate({
  model: 'gpt-image-1-mini', prompt: 'a purple square on a yellow background', stream: true, partial_images: 2,
  quality: 'high', output_format: 'png',
});
const events = [];
let completed = null;
for await (const ev of stream) {
  events.push(ev.type);
  if (ev.type === 'image_generation.partial_image') {
    expect(ev.partial_image_index === events.length - 1, 'partial indexes count up');
    report('partial', { index: ev.partial_image_index, files: [save(ev.b64_json, 'png')], size: ev.size });
  } else if (ev.type === 'image_generation.completed') {
    completed = ev;
  }
}
expect(completed && completed.usage && completed.usage.total_tokens > 0, 'completed event with usage');
expect(events.filter((t) => t === 'image_generation.partial_image').length === 2, `two partial images, got ${events}`);
report('stream', { events, files: [save(completed.b64_json, 'png')], size: completed.size, usage: completed.usage });

// 6. the model list
const models = [];
for await (const m of client.models.list()) models.push(m.id);
expect(models.includes('gpt-image-1-mini'), 'gpt-image-1-mini listed');
report('models', { ids: models });
