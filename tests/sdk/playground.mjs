// playground.mjs - the playground page in a real browser (Debian's chromium, headless, driven by
// playwright-core): fill the form, generate, wait for the streamed previews and the image.
//   node tests/sdk/playground.mjs BASE_URL API_KEY SCREENSHOT.png
// Prints one JSON line with what the page showed; exits 1 on the first failed expectation.
import { chromium } from 'playwright-core';

const [, , base, apiKey, shot] = process.argv;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
function expect(cond, what) {
  if (!cond) throw new Error(`expectation failed: ${what}`);
}
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems = [];
  page.on('pageerror', (e) => problems.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  const resp = await page.goto(base + '/', { waitUntil: 'load' });
  expect(resp.status() === 200, 'GET / is 200');
  expect((resp.headers()['content-type'] || '').startsWith('text/html'), 'an HTML page');
  // every parameter of the contract is on the form, with its allowed values
  const options = async (id) => page.$$eval(`#${id} option`, (os) => os.map((o) => o.value));
  expect(JSON.stringify(await options('size')) === JSON.stringify(['auto', '1024x1024', '1536x1024', '1024x1536']), 'sizes');
  expect(JSON.stringify(await options('quality')) === JSON.stringify(['auto', 'low', 'medium', 'high']), 'qualities');
  expect(JSON.stringify(await options('background')) === JSON.stringify(['auto', 'opaque', 'transparent']), 'backgrounds');
  expect(JSON.stringify(await options('moderation')) === JSON.stringify(['auto', 'low']), 'moderation levels');
  expect(JSON.stringify(await options('output_format')) === JSON.stringify(['png', 'jpeg', 'webp']), 'formats');
  for (const id of ['prompt', 'negative_prompt', 'output_compression', 'n', 'seed', 'partial_images', 'key'])
    expect(await page.$(`#${id}`), `field ${id}`);

  await page.fill('#key', apiKey);
  await page.dispatchEvent('#key', 'change');
  await page.waitForFunction(() => [...document.querySelectorAll('#model option')].some((o) => o.value === 'imgapi-shapes'));
  await page.fill('#prompt', 'a yellow star on a blue background');
  await page.selectOption('#size', '1536x1024');
  await page.selectOption('#quality', 'high');
  await page.fill('#seed', '42');
  await page.fill('#partial_images', '3');
  const code = await page.textContent('#code');
  expect(code.includes('curl -N') && code.includes('"seed":42') && code.includes('1536x1024'), 'the curl tab shows the request');
  let sawPartial = false;
  page.on('console', () => {});
  await page.click('#go');
  // the streamed previews appear while sampling, then the final image replaces them
  const partial = page.waitForSelector('img.partial', { timeout: 60000 }).then(() => { sawPartial = true; }).catch(() => {});
  await page.waitForSelector('img.final', { timeout: 120000 });
  await partial;
  const info = await page.evaluate(() => {
    const img = document.querySelector('img.final');
    const rows = Object.fromEntries([...document.querySelectorAll('#resolved tr')].map((tr) => [tr.cells[0].textContent, tr.cells[1].textContent]));
    const bar = document.getElementById('progress');
    return { width: img.naturalWidth, height: img.naturalHeight, download: document.querySelector('#images a').getAttribute('download'),
      status: document.getElementById('status').textContent, rows, progress: [bar.value, bar.max] };
  });
  expect(info.width === 1536 && info.height === 1024, `image 1536x1024, got ${info.width}x${info.height}`);
  expect(info.download === 'imgapi-1.png', 'download link');
  expect(info.rows.size === '1536x1024' && info.rows.quality === 'high' && info.rows.cost === '$0.052', `resolved parameters and cost: ${JSON.stringify(info.rows)}`);
  expect(info.progress[0] === info.progress[1], 'progress bar full');
  await page.click('[data-lang=python]');
  expect((await page.textContent('#code')).includes('requests.post('), 'the Python tab');
  await page.click('[data-lang=js]');
  expect((await page.textContent('#code')).includes('client.images.generate('), 'the JavaScript tab');
  await page.click('[data-lang=curl]');
  await page.screenshot({ path: shot, fullPage: true });
  // an error is shown, not swallowed
  await page.fill('#key', 'sk-wrong');
  await page.click('#go');
  await page.waitForSelector('#status.error', { timeout: 30000 });
  const err = await page.textContent('#status');
  expect(problems.length === 0 || problems.every((p) => p.includes('401')), `page errors: ${problems}`);
  console.log(JSON.stringify({ ...info, sawPartial, error: err }));
} finally {
  await browser.close();
}
