// openai_sdk_edits.mjs - OpenAI's images.edit through the official Node SDK against imgapi.
//   node tests/sdk/openai_sdk_edits.mjs BASE_URL API_KEY IN_PNG MASK_PNG OUT_DIR
// One image, with a mask, image[] x2 on a model that takes one (the 400 names the limit) and on
// one that takes two, and stream: true. Prints one JSON line per check; exits 1 on the first
// failed expectation.
import OpenAI, { toFile } from 'openai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [, , base, apiKey, inPng, maskPng, outDir] = process.argv;
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey, maxRetries: 0, timeout: 300000 });
const png = readFileSync(inPng);
const mask = readFileSync(maskPng);
const file = (buf, name) => toFile(buf, name, { type: 'image/png' });

function expect(cond, what) {
  if (!cond) throw new Error(`expectation failed: ${what}`);
}
function report(check, fields) {
  console.log(JSON.stringify({ check, ...fields }));
}

// 1. one image: size auto follows its aspect; usage counts the image
const one = await client.images.edit({ model: 'gpt-image-1-mini', image: await file(png, 'in.png'), prompt: 'make it green' });
expect(one.data.length === 1 && one.size === '1024x1024', `one image, size ${one.size}`);
expect(one.usage.input_tokens_details.image_tokens > 0, 'image tokens counted');
writeFileSync(join(outDir, 'one.png'), Buffer.from(one.data[0].b64_json, 'base64'));
report('one_image', { size: one.size, usage: one.usage });

// 2. with a mask (alpha 0 = repaint)
const masked = await client.images.edit({
  model: 'gpt-image-1-mini', image: await file(png, 'in.png'), mask: await file(mask, 'mask.png'),
  prompt: 'a green square', size: '1024x1024', quality: 'low', n: 1,
});
writeFileSync(join(outDir, 'masked.png'), Buffer.from(masked.data[0].b64_json, 'base64'));
report('mask', { size: masked.size, file: join(outDir, 'masked.png') });

// 3. image[] x2: the default model takes one, test-model-2 takes two
try {
  await client.images.edit({ model: 'gpt-image-1-mini', image: [await file(png, 'a.png'), await file(png, 'b.png')], prompt: 'merge' });
  expect(false, 'two images refused on a one-image model');
} catch (e) {
  expect(e instanceof OpenAI.BadRequestError && e.param === 'image' && /at most 1 input image/.test(e.message), `limit named, got ${e}`);
  report('two_images_refused', { status: e.status, message: e.message });
}
const two = await client.images.edit({ model: 'test-model-2', image: [await file(png, 'a.png'), await file(png, 'b.png')], prompt: 'merge' });
expect(two.data.length === 1 && two.usage.input_tokens_details.image_tokens > one.usage.input_tokens_details.image_tokens, 'two images counted');
report('two_images', { usage: two.usage });

// 4. stream: true
const stream = await client.images.edit({
  model: 'gpt-image-1-mini', image: await file(png, 'in.png'), prompt: 'stream it', stream: true, partial_images: 1,
});
const events = [];
for await (const ev of stream) events.push(ev.type);
expect(events[events.length - 1] === 'image_edit.completed', `events ${events}`);
expect(events.every((t) => t.startsWith('image_edit.')), `edit events only: ${events}`);
report('stream', { events });
