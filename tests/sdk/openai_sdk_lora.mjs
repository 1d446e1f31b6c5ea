// openai_sdk_lora.mjs - adapters through the official OpenAI Node SDK: the A1111 prompt syntax
// <lora:NAME:SCALE> and the "loras" field, as a client that switched from another server writes them.
//   node tests/sdk/openai_sdk_lora.mjs BASE_URL API_KEY LORA_NAME
// Prints one JSON line with what it saw; tests/engine/lora.py judges it (and the metrics).
import OpenAI from 'openai';

const [, , base, apiKey, name] = process.argv;
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey, maxRetries: 0, timeout: 300000 });
const prompt = 'a red circle on a white background';
const gen = async (p, extra = {}) =>
  (await client.images.generate({ model: 'gpt-image-1-mini', prompt: p, quality: 'low', size: '1024x1024', seed: 5, ...extra }))
    .data[0].b64_json;

const plain = await gen(prompt);
const tagged = await gen(`${prompt} <lora:${name}:0.7>`);
const again = await gen(`${prompt} <lora:${name}:0.7>`);
const field = await gen(prompt, { loras: [{ name, scale: 0.7 }] });
let unknown = null;
try {
  await gen(`${prompt} <lora:no-such-adapter>`);
} catch (e) {
  unknown = { status: e.status, param: e.param, code: e.code, bad_request: e instanceof OpenAI.BadRequestError, message: e.message };
}
const models = await client.models.list();
console.log(JSON.stringify({
  differs: plain !== tagged, repeat_same: tagged === again, field_same_as_tag: field === tagged,
  unknown, model_ids: models.data.map((m) => m.id),
}));
