// playground_edit.mjs - the playground's Edit tab in a real browser (Debian's chromium, headless,
// driven by playwright-core): choose an image, paint a mask with the brush, paint and erase a
// stroke elsewhere, edit, and wait for the streamed result shown beside the input.
//   node tests/sdk/playground_edit.mjs BASE_URL API_KEY IMAGE.png PROMPT SCREENSHOT.png
// Prints one JSON line with what the page showed (the final image as a data URL); exits 1 on the
// first failed expectation.
import { chromium } from 'playwright-core';

const [, , base, apiKey, imagePath, prompt, shot] = process.argv;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
function expect(cond, what) {
  if (!cond) throw new Error(`expectation failed: ${what}`);
}
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const problems = [];
  page.on('pageerror', (e) => problems.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  await page.goto(base + '/', { waitUntil: 'load' });
  await page.fill('#key', apiKey);
  await page.dispatchEvent('#key', 'change');
  await page.waitForFunction(() => [...document.querySelectorAll('#model option')].some((o) => o.value === 'imgapi-shapes'));
  expect(await page.isHidden('#edit'), 'the edit panel is hidden in Generate mode');
  await page.click('#mode_edit');
  expect(await page.isVisible('#edit'), 'the Edit tab shows its panel');
  expect((await page.textContent('#go')) === 'Edit', 'the button says Edit');
  await page.setInputFiles('#edit_image', imagePath);
  await page.waitForSelector('#stack:not([hidden])');
  const box = await page.locator('#mask_canvas').boundingBox();
  expect(box && box.width > 100, 'the image is shown on the canvas');
  // the brush: strokes over the left part of the image
  const r = box.width * 0.05;
  await page.fill('#brush', String(Math.round(2 * r)));
  await page.dispatchEvent('#brush', 'input');
  for (let y = box.height * 0.25; y <= box.height * 0.75; y += r) {
    await page.mouse.move(box.x + box.width * 0.05, box.y + y);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.45, box.y + y, { steps: 12 });
    await page.mouse.up();
  }
  // a stroke at the bottom right, then erased with a wider eraser: that area must stay as it is
  await page.mouse.click(box.x + box.width * 0.85, box.y + box.height * 0.85);
  await page.check('#eraser');
  await page.fill('#brush', String(Math.round(4 * r)));
  await page.dispatchEvent('#brush', 'input');
  await page.mouse.click(box.x + box.width * 0.85, box.y + box.height * 0.85);
  await page.uncheck('#eraser');
  await page.fill('#prompt', prompt);
  await page.selectOption('#model', 'imgapi-shapes');
  await page.selectOption('#size', '1024x1024');
  await page.selectOption('#quality', 'low');
  await page.fill('#seed', '7');
  await page.fill('#partial_images', '2');
  await page.dispatchEvent('#prompt', 'input');
  const code = await page.textContent('#code');
  expect(code.includes('/v1/images/edits') && code.includes('-F mask=@mask.png') && code.includes('-F image=@image.png'),
    `the curl tab shows the multipart edit: ${code}`);
  // count the streamed previews as they are added (a quick edit replaces them within moments)
  await page.evaluate(() => {
    window.partials = 0;
    new MutationObserver((ms) => {
      for (const m of ms) for (const n of m.addedNodes) if (n.querySelector && n.querySelector('img.partial')) window.partials++;
    }).observe(document.getElementById('images'), { childList: true, subtree: true });
  });
  await page.click('#go');
  await page.waitForSelector('img.final', { timeout: 120000 });
  const sawPartial = await page.evaluate(() => window.partials);
  const info = await page.evaluate(() => {
    const img = document.querySelector('img.final'), input = document.querySelector('img.input');
    const rows = Object.fromEntries([...document.querySelectorAll('#resolved tr')].map((tr) => [tr.cells[0].textContent, tr.cells[1].textContent]));
    return { width: img.naturalWidth, height: img.naturalHeight, final: img.src, input: !!input,
      inputFirst: document.querySelector('#images figure img') === input, status: document.getElementById('status').textContent, rows };
  });
  expect(info.input && info.inputFirst, 'the input is shown beside (before) the result');
  await page.click('[data-lang=js]');
  expect((await page.textContent('#code')).includes('client.images.edit('), 'the JavaScript tab');
  await page.screenshot({ path: shot, fullPage: true });
  expect(problems.length === 0, `page errors: ${problems}`);
  console.log(JSON.stringify({ ...info, sawPartial }));
} finally {
  await browser.close();
}
