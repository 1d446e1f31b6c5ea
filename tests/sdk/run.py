"""Real clients against a real `imgapi serve` with the built-in model (npm packages pinned in
tests/sdk/package-lock.json, installed by tools/install-deps.sh):

- the official OpenAI Node SDK (tests/sdk/openai_sdk.mjs): every parameter, usage, auto values, a
  transparent PNG, typed errors, streaming with partial images, the model list; this checks the
  images it saved and the ledger;
- the playground page in Debian's chromium, headless, driven by playwright-core
  (tests/sdk/playground.mjs): every parameter on the form, generate with streamed previews, the
  image, download link, resolved parameters and cost, the code tabs, an error shown; its
  screenshot is kept as tests/out/playground.png."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
import harness  # noqa: E402
from harness import Server, check_invariant, main, test  # noqa: E402


@test
def test_openai_node_sdk_images_edit():
    # the test server's models can edit (the built-in model has no image encoder)
    out = tempfile.mkdtemp(prefix="imgapi-sdk-edit-")
    arr = np.zeros((1024, 1024, 3), np.uint8)
    arr[:, :512] = (200, 40, 30)
    arr[:, 512:] = (30, 60, 190)
    Image.fromarray(arr).save(os.path.join(out, "in.png"))
    alpha = np.full((1024, 1024), 255, np.uint8)
    alpha[300:700, 300:700] = 0
    Image.fromarray(np.dstack([arr, alpha]), "RGBA").save(os.path.join(out, "mask.png"))
    s = Server(env={"IMGAPI_TEST_STEP_MS": "20"}).start()
    try:
        key = s.new_key("5")
        p = subprocess.run(["node", os.path.join(HERE, "openai_sdk_edits.mjs"), s.url(""), key,
                            os.path.join(out, "in.png"), os.path.join(out, "mask.png"), out],
                           capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
        checks = {json.loads(x)["check"]: json.loads(x) for x in p.stdout.splitlines()}
        assert {"one_image", "mask", "two_images_refused", "two_images", "stream"} <= set(checks), sorted(checks)
        got = np.asarray(Image.open(checks["mask"]["file"]).convert("RGB"))
        keep = np.ones((1024, 1024), bool)
        keep[300 - 9:700 + 9, 300 - 9:700 + 9] = False
        assert (got[keep] == arr[keep]).all(), "unmasked pixels changed"
        assert np.abs(got[300:700, 300:700].astype(int) - arr[300:700, 300:700]).mean() > 50, "mask not repainted"
        l = check_invariant(s, key)
        assert l["reserved"] == 0, l
        print(f"     SDK images.edit: {', '.join(sorted(checks))}; stream events {checks['stream']['events']}")
    finally:
        s.cleanup()
        shutil.rmtree(out, ignore_errors=True)


@test
def test_openai_node_sdk_against_the_server():
    assert os.path.isdir(os.path.join(HERE, "node_modules", "openai")), \
        "the SDK is not installed: run tools/install-deps.sh (npm ci in tests/sdk)"
    out = tempfile.mkdtemp(prefix="imgapi-sdk-")
    s = Server(args=["--config", "/dev/null"], binary=harness.PROD_BIN)  # the built-in model
    try:
        s.start()
        key = s.new_key("5")
        p = subprocess.run(["node", os.path.join(HERE, "openai_sdk.mjs"), s.url(""), key, out],
                           capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
        checks = {}
        for line in p.stdout.splitlines():
            j = json.loads(line)
            checks.setdefault(j["check"], []).append(j)
        want = {"every_parameter", "defaults", "transparent", "bad_request", "unauthorized", "not_found",
                "partial", "stream", "models"}
        assert want <= set(checks), sorted(checks)

        def image(path, fmt, size, mode):
            im = Image.open(path)
            assert im.format == fmt and im.size == size and im.mode == mode, (path, im.format, im.size, im.mode)
            assert np.ptp(np.asarray(im.convert("RGB"))) > 0, f"{path} is blank"
            return im

        for f in checks["every_parameter"][0]["files"]:
            image(f, "WEBP", (1536, 1024), "RGB")
        image(checks["defaults"][0]["files"][0], "PNG", (1024, 1024), "RGB")
        tr = image(checks["transparent"][0]["files"][0], "PNG", (1024, 1536), "RGBA")
        assert (np.asarray(tr)[..., 3] == 0).mean() > 0.3, "transparent background"
        partials = checks["partial"]
        assert [c["index"] for c in partials] == [0, 1]
        for c in partials:
            image(c["files"][0], "PNG", (1024, 1024), "RGB")
        image(checks["stream"][0]["files"][0], "PNG", (1024, 1024), "RGB")
        assert checks["stream"][0]["events"][-1] == "image_generation.completed"
        # charged exactly for what was generated: 2 low 1536x1024, a medium default (the
        # built-in model's auto), a medium 1024x1536, a high 1024x1024; errors cost nothing
        l = check_invariant(s, key)
        assert l["reserved"] == 0
        assert l["charged"] == 2 * 6000 + 11000 + 15000 + 36000, l
        print(f"  SDK checks passed: {', '.join(sorted(checks))}; stream events "
              f"{checks['stream'][0]['events']}; charged ${l['charged'] / 1e6:.3f}")
    finally:
        s.cleanup()
        shutil.rmtree(out, ignore_errors=True)


@test
def test_playground_in_a_real_browser():
    assert os.path.isdir(os.path.join(HERE, "node_modules", "playwright-core")), \
        "playwright-core is not installed: run tools/install-deps.sh (npm ci in tests/sdk)"
    assert os.path.exists(os.environ.get("CHROMIUM", "/usr/bin/chromium")), "chromium is not installed (tools/install-deps.sh)"
    shot = os.path.join(HERE, "..", "out", "playground.png")
    os.makedirs(os.path.dirname(shot), exist_ok=True)
    s = Server(args=["--config", "/dev/null"], binary=harness.PROD_BIN)
    try:
        s.start()
        key = s.new_key("5")
        p = subprocess.run(["node", os.path.join(HERE, "playground.mjs"), s.url(""), key, shot],
                           capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
        info = json.loads(p.stdout.strip().splitlines()[-1])
        assert info["sawPartial"], "no streamed preview appeared"
        assert "API key" in info["error"] or "Invalid" in info["error"], info["error"]
        im = Image.open(shot)
        assert im.size[0] >= 1280 and np.ptp(np.asarray(im.convert("RGB"))) > 0
        l = check_invariant(s, key)
        assert l["reserved"] == 0 and l["charged"] == 52000, l
        print(f"  playground: {info['width']}x{info['height']} image after streamed previews, resolved "
              f"{info['rows']}, error shown: {info['error']!r}; screenshot {os.path.normpath(shot)}")
    finally:
        s.cleanup()


@test
def test_playground_edit_tab_in_a_real_browser():
    """The Edit tab: a picture of the built-in model's kind, a mask painted with the brush over its
    left shape (and a stroke painted and erased elsewhere), edited to another colour: the shape
    takes it, every pixel away from the painted area is the input's, and the input is shown."""
    import base64
    import io
    sys.path.insert(0, os.path.join(HERE, "..", "..", "train"))
    sys.path.insert(0, os.path.join(HERE, "..", "engine"))
    import shape_analysis as sa
    import shapes
    scene = dict(bg="white", bg2=None, bg_kind="plain", count=1, relation=None,
                 objects=[dict(color="red", shape="circle", size=None, pos="left")])
    arr = shapes.render(scene, 1024, supersample=1)
    d = tempfile.mkdtemp()
    src = os.path.join(d, "in.png")
    Image.fromarray(arr).save(src)
    shot = os.path.join(HERE, "..", "out", "playground-edit.png")
    os.makedirs(os.path.dirname(shot), exist_ok=True)
    s = Server(args=["--config", "/dev/null"], binary=harness.PROD_BIN)
    try:
        s.start()
        key = s.new_key("5")
        p = subprocess.run(["node", os.path.join(HERE, "playground_edit.mjs"), s.url(""), key, src,
                            "a blue circle on the left on a white background", shot],
                           capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
        info = json.loads(p.stdout.strip().splitlines()[-1])
        out = np.asarray(Image.open(io.BytesIO(base64.b64decode(info["final"].split(",", 1)[1]))).convert("RGB"))
        assert out.shape == (1024, 1024, 3), out.shape
        right = slice(int(0.56 * 1024), 1024)  # the strokes end at 0.45 + 0.05 of the width, the seam is 8 px
        assert (out[:, right] == arr[:, right]).all(), "pixels away from the painted mask changed"
        left = np.asarray(Image.fromarray(out[:, : int(0.45 * 1024)]).resize((32, 72), Image.BOX), np.float32)
        bg = np.array(shapes.COLORS["white"], np.float32)
        far = np.sqrt(((left - bg) ** 2).sum(-1)) > 70
        colour = sa.nearest_color(np.median(left[far], 0)) if far.sum() > 8 else None
        assert colour == "blue", colour
        assert info["sawPartial"], "no streamed preview"
        l = check_invariant(s, key)
        assert l["reserved"] == 0 and l["charged"] == 6000, l  # low 1024x1024 + one input image
        print(f"  playground edit: painted shape red -> {colour}, {int(out[:, right].size / 3)} pixels beside it "
              f"unchanged, rows {info['rows']}; screenshot {os.path.normpath(shot)}")
    finally:
        s.cleanup()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
