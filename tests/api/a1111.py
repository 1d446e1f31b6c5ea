"""The AUTOMATIC1111 / Forge web API (/sdapi/v1/...), driven with the request bodies A1111 client
libraries send (every field of A1111's txt2img model with its defaults, as `webuiapi` and the
Open WebUI integration post them) and their three ways to authenticate (Bearer, x-api-key, HTTP
Basic as A1111's --api-auth). The built-in model answers through the product binary: an A1111
txt2img gives the same image as /v1/images/generations with the same seed and settings. Progress
and interrupt are checked on a running job of the test server (its steps slowed down)."""
import base64
import json
import os
import sys
import threading
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, check_invariant, main, test  # noqa: E402

PROD = os.environ.get("IMGAPI_PROD_BIN", "build/imgapi")


def client_body(**over):
    """A txt2img body as an A1111 client library builds it: every field, defaults included."""
    body = {"enable_hr": False, "denoising_strength": 0.7, "firstphase_width": 0, "firstphase_height": 0,
            "hr_scale": 2, "hr_upscaler": "Latent", "hr_second_pass_steps": 0, "hr_resize_x": 0, "hr_resize_y": 0,
            "hr_checkpoint_name": None, "hr_sampler_name": None, "hr_prompt": "", "hr_negative_prompt": "",
            "prompt": "", "styles": [], "seed": -1, "subseed": -1, "subseed_strength": 0.0,
            "seed_resize_from_h": 0, "seed_resize_from_w": 0, "sampler_name": None, "batch_size": 1, "n_iter": 1,
            "steps": None, "cfg_scale": 7.0, "width": 512, "height": 512, "restore_faces": None, "tiling": None,
            "do_not_save_samples": False, "do_not_save_grid": False, "negative_prompt": "", "eta": 1.0,
            "s_churn": 0, "s_tmax": 0, "s_tmin": 0, "s_noise": 1, "override_settings": {},
            "override_settings_restore_afterwards": True, "script_args": [], "sampler_index": "Euler a",
            "script_name": None, "send_images": True, "save_images": False, "alwayson_scripts": {}, "scheduler": None}
    body.update(over)
    return body


PROD_SERVER = {}


def prod():
    if "s" not in PROD_SERVER:
        s = Server(binary=PROD).start()
        PROD_SERVER["s"] = s
        PROD_SERVER["key"] = s.new_key("50")
    return PROD_SERVER["s"], PROD_SERVER["key"]


@test
def test_txt2img_gives_the_same_image_as_the_images_api():
    s, key = prod()
    v1 = s.post("/v1/images/generations", {"prompt": "a red circle on a blue background", "seed": 7,
                                           "size": "1024x1024", "quality": "medium"},
                headers={"Authorization": f"Bearer {key}"})
    assert v1.status_code == 200, v1.text
    # the built-in model's medium quality: 20 DPM++ 2M Karras steps, guidance 7 (GET /v1/models has no steps;
    # the answer's info says what ran)
    r = s.post("/sdapi/v1/txt2img", client_body(prompt="a red circle on a blue background", seed=7, width=1024,
                                                height=1024, steps=20, cfg_scale=7, sampler_name="DPM++ 2M",
                                                scheduler="karras", sampler_index=None), key=key)
    assert r.status_code == 200, r.text
    d = r.json()
    assert base64.b64decode(d["images"][0]) == base64.b64decode(v1.json()["data"][0]["b64_json"])
    info = json.loads(d["info"])
    assert info["all_seeds"] == [7] and info["steps"] == 20 and info["sampler_name"] == "DPM++ 2M"
    assert info["infotexts"][0].startswith("a red circle on a blue background\nSteps: 20, Sampler: DPM++ 2M, "
                                           "Schedule type: Karras, CFG scale: 7, Seed: 7, Size: 1024x1024")
    assert d["parameters"]["width"] == 1024 and d["parameters"]["seed"] == 7
    # other settings give another image; the same settings again the same one
    other = s.post("/sdapi/v1/txt2img", client_body(prompt="a red circle on a blue background", seed=7,
                                                    width=1024, height=1024, steps=6, sampler_name="Euler a"),
                   key=key).json()
    assert other["images"][0] != d["images"][0]
    assert json.loads(other["info"])["steps"] == 6
    again = s.post("/sdapi/v1/txt2img", client_body(prompt="a red circle on a blue background", seed=7,
                                                    width=1024, height=1024, steps=6, sampler_name="k_euler_a"),
                   key=key).json()
    assert again["images"] == other["images"]
    check_invariant(s, key)


@test
def test_batches_sizes_seeds_and_send_images():
    s, key = prod()
    r = s.post("/sdapi/v1/txt2img", client_body(prompt="two green squares", seed=3, batch_size=2, n_iter=2,
                                                width=768, height=512, steps=4), key=key)
    assert r.status_code == 200, r.text
    d = r.json()
    assert len(d["images"]) == 4 and json.loads(d["info"])["all_seeds"] == [3, 4, 5, 6]
    from PIL import Image
    import io
    assert Image.open(io.BytesIO(base64.b64decode(d["images"][0]))).size == (768, 512)
    r = s.post("/sdapi/v1/txt2img", client_body(prompt="a blue star", seed=3, steps=2, send_images=False), key=key)
    assert r.status_code == 200 and r.json()["images"] == [] and json.loads(r.json()["info"])["all_seeds"] == [3]
    r = s.post("/sdapi/v1/txt2img", client_body(prompt="a blue star", batch_size=6, n_iter=2), key=key)
    assert r.status_code == 400 and r.json()["param"] == "n_iter", r.text


@test
def test_unsupported_settings_and_unknown_names_are_400_naming_them():
    s, key = prod()
    cases = [({"sampler_name": "DDIM"}, "sampler_name", "Euler a"), ({"scheduler": "exponential"}, "scheduler", "karras"),
             ({"enable_hr": True}, "enable_hr", None), ({"restore_faces": True}, "restore_faces", None),
             ({"styles": ["cinematic"]}, "styles", None), ({"script_name": "x/y/z plot"}, "script_name", None),
             ({"override_settings": {"CLIP_stop_at_last_layers": 2}}, "override_settings", None),
             ({"steps": 500}, "steps", None), ({"width": "wide"}, "width", None)]
    before = s.ledger(key)
    for over, param, mention in cases:
        r = s.post("/sdapi/v1/txt2img", client_body(prompt="a cat", **over), key=key)
        assert r.status_code == 400 and r.json()["param"] == param, (over, r.text)
        if mention:
            assert mention in r.json()["error"], r.text
    assert s.ledger(key) == before


@test
def test_auth_bearer_api_key_and_basic_and_the_ledger():
    s, key = prod()
    body = client_body(prompt="a yellow triangle", seed=1, steps=2)
    for h in ({"Authorization": f"Bearer {key}"}, {"x-api-key": key},
              {"Authorization": "Basic " + base64.b64encode(f"user:{key}".encode()).decode()},
              {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}):
        r = requests.post(s.url("/sdapi/v1/txt2img"), json=body, headers=h, timeout=60)
        assert r.status_code == 200, (h, r.text)
        assert float(r.headers["x-credits-charged"]) > 0
    for h in ({}, {"Authorization": "Basic " + base64.b64encode(b"user:wrong").decode()}, {"Authorization": "Basic !!"}):
        r = requests.post(s.url("/sdapi/v1/txt2img"), json=body, headers=h, timeout=60)
        assert r.status_code == 401, (h, r.text)
        assert requests.get(s.url("/sdapi/v1/sd-models"), headers=h, timeout=10).status_code == 401
    l = check_invariant(s, key)
    assert l["reserved"] == 0
    # moderation: refused, nothing charged
    before = s.ledger(key)
    r = s.post("/sdapi/v1/txt2img", client_body(prompt="nude child"), key=key)
    assert r.status_code == 400 and r.json()["code"] == "moderation_blocked", r.text
    assert s.ledger(key) == before


@test
def test_models_options_samplers_schedulers_loras():
    s, key = prod()
    h = {"x-api-key": key}
    models = requests.get(s.url("/sdapi/v1/sd-models"), headers=h, timeout=10).json()
    assert [m["title"] for m in models] == ["imgapi-shapes"] and models[0]["model_name"] == "imgapi-shapes"
    opts = requests.get(s.url("/sdapi/v1/options"), headers=h, timeout=10).json()
    assert opts["sd_model_checkpoint"] == "imgapi-shapes"
    r = requests.post(s.url("/sdapi/v1/options"), json={"sd_model_checkpoint": "imgapi-shapes"}, headers=h, timeout=10)
    assert r.status_code == 200 and r.json() is None, r.text
    r = requests.post(s.url("/sdapi/v1/options"), json={"sd_model_checkpoint": "sd_xl_base_1.0.safetensors"},
                      headers=h, timeout=10)
    assert r.status_code == 404 and r.json()["param"] == "sd_model_checkpoint", r.text
    r = requests.post(s.url("/sdapi/v1/options"), json={"CLIP_stop_at_last_layers": 2}, headers=h, timeout=10)
    assert r.status_code == 400 and r.json()["param"] == "CLIP_stop_at_last_layers", r.text
    r = s.post("/sdapi/v1/txt2img", client_body(prompt="a cat", override_settings={"sd_model_checkpoint": "nope"}),
               key=key)
    assert r.status_code == 404, r.text
    samplers = requests.get(s.url("/sdapi/v1/samplers"), headers=h, timeout=10).json()
    assert [x["name"] for x in samplers] == ["Euler", "Euler a", "DPM++ 2M", "LCM"]
    sch = requests.get(s.url("/sdapi/v1/schedulers"), headers=h, timeout=10).json()
    assert [x["name"] for x in sch] == ["automatic", "uniform", "karras", "sgm_uniform"] and sch[2]["label"] == "Karras"
    assert requests.get(s.url("/sdapi/v1/loras"), headers=h, timeout=10).json() == []


@test
def test_progress_and_interrupt_on_a_running_job():
    s = Server(env={"IMGAPI_TEST_STEP_MS": "500"}).start()
    try:
        key = s.new_key("10")
        h = {"x-api-key": key}
        idle = requests.get(s.url("/sdapi/v1/progress"), headers=h, timeout=10).json()
        assert idle["progress"] == 0 and idle["state"]["job_count"] == 0
        out = {}
        t = threading.Thread(target=lambda: out.update(r=s.post("/sdapi/v1/txt2img", client_body(prompt="a cat", seed=2),
                                                                 key=key)))
        t.start()
        seen = None
        deadline = time.time() + 10
        while time.time() < deadline:
            p = requests.get(s.url("/sdapi/v1/progress"), headers=h, timeout=10).json()
            if p["state"]["sampling_step"] >= 1:
                seen = p
                break
            time.sleep(0.1)
        assert seen and seen["state"]["job_count"] == 1 and seen["state"]["sampling_steps"] == 4, seen
        assert 0 < seen["progress"] < 1 and seen["eta_relative"] >= 0
        from PIL import Image
        import io
        assert Image.open(io.BytesIO(base64.b64decode(seen["current_image"]))).format == "PNG"
        bare = requests.get(s.url("/sdapi/v1/progress?skip_current_image=true"), headers=h, timeout=10).json()
        assert bare["current_image"] is None and bare["state"]["job_count"] == 1
        # another key sees nothing of it
        other = s.new_key("1")
        assert requests.get(s.url("/sdapi/v1/progress"), headers={"x-api-key": other}, timeout=10).json()["state"]["job_count"] == 0
        assert requests.post(s.url("/sdapi/v1/interrupt"), headers=h, timeout=10).status_code == 200
        t.join(20)
        r = out["r"]
        assert r.status_code == 200 and r.json()["images"] == [], r.text
        l = check_invariant(s, key)
        assert l["charged"] == 0 and l["reserved"] == 0, l
        # the next request runs normally
        r = s.post("/sdapi/v1/txt2img", client_body(prompt="a cat", seed=2), key=key)
        assert r.status_code == 200 and len(r.json()["images"]) == 1
    finally:
        s.cleanup()


@test
def test_skip_leaves_out_the_current_image_and_charges_the_others():
    s = Server(env={"IMGAPI_TEST_STEP_MS": "400"}).start()
    try:
        key = s.new_key("10")
        h = {"x-api-key": key}
        full = s.post("/sdapi/v1/txt2img", client_body(prompt="a cat", seed=2, n_iter=2), key=key)
        assert full.status_code == 200 and len(full.json()["images"]) == 2
        full_cost = float(full.headers["x-credits-charged"])
        out = {}
        t = threading.Thread(target=lambda: out.update(r=s.post("/sdapi/v1/txt2img", client_body(prompt="a cat", seed=2, n_iter=2),
                                                                 key=key)))
        t.start()
        deadline = time.time() + 10
        while time.time() < deadline:
            p = requests.get(s.url("/sdapi/v1/progress"), headers=h, timeout=10).json()
            if p["state"]["job_count"] and p["state"]["sampling_step"] >= 1 and p["state"]["job_no"] == 0:
                break
            time.sleep(0.05)
        assert requests.post(s.url("/sdapi/v1/skip"), headers=h, timeout=10).status_code == 200
        t.join(30)
        r = out["r"]
        assert r.status_code == 200, r.text
        info = json.loads(r.json()["info"])
        assert len(r.json()["images"]) == 1 and info["all_seeds"] == [3], info["all_seeds"]
        assert r.json()["images"][0] == full.json()["images"][1]
        assert abs(float(r.headers["x-credits-charged"]) - full_cost / 2) < 1e-6, (r.headers["x-credits-charged"], full_cost)
        check_invariant(s, key)
    finally:
        s.cleanup()


def img2img_body(**over):
    """An img2img body as an A1111 client library builds it (its txt2img fields and the image ones)."""
    body = client_body()
    for k in ("enable_hr", "firstphase_width", "firstphase_height", "hr_scale", "hr_upscaler", "hr_second_pass_steps",
              "hr_resize_x", "hr_resize_y", "hr_checkpoint_name", "hr_sampler_name", "hr_prompt", "hr_negative_prompt"):
        body.pop(k)
    body.update({"init_images": [], "resize_mode": 0, "denoising_strength": 0.75, "image_cfg_scale": 1.5, "mask": None,
                 "mask_blur_x": 4, "mask_blur_y": 4, "mask_blur": 4, "inpainting_fill": 0, "inpaint_full_res": True,
                 "inpaint_full_res_padding": 32, "inpainting_mask_invert": 0, "initial_noise_multiplier": 1.0,
                 "include_init_images": False})
    body.update(over)
    return body


def png_bytes(im):
    import io
    b = io.BytesIO()
    im.save(b, "PNG")
    return b.getvalue()


def init_and_masks():
    """A 1024x1024 picture, A1111's mask (white = repaint) and the same mask as OpenAI's (alpha 0)."""
    from PIL import Image, ImageDraw
    im = Image.new("RGB", (1024, 1024), (30, 60, 200))
    ImageDraw.Draw(im).ellipse((300, 300, 700, 700), fill=(230, 40, 40))
    a_mask = Image.new("L", (1024, 1024), 0)
    ImageDraw.Draw(a_mask).rectangle((100, 100, 400, 400), fill=255)
    o_mask = Image.new("RGBA", (1024, 1024), (0, 0, 0, 255))
    ImageDraw.Draw(o_mask).rectangle((100, 100, 400, 400), fill=(0, 0, 0, 0))
    return png_bytes(im), png_bytes(a_mask), png_bytes(o_mask)


@test
def test_img2img_with_a_mask_gives_the_same_image_as_the_edits_route():
    s, key = prod()
    init, a_mask, o_mask = init_and_masks()
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    for mask in (True, False):
        files = {"image": ("in.png", init, "image/png")}
        if mask:
            files["mask"] = ("mask.png", o_mask, "image/png")
        v1 = requests.post(s.url("/v1/images/edits"), headers={"Authorization": f"Bearer {key}"}, files=files,
                           data={"prompt": "a green square", "seed": "11", "size": "1024x1024", "strength": "0.6"},
                           timeout=60)
        assert v1.status_code == 200, v1.text
        body = img2img_body(prompt="a green square", seed=11, width=1024, height=1024, denoising_strength=0.6,
                            init_images=["data:image/png;base64," + b64(init)], mask=b64(a_mask) if mask else None,
                            mask_blur=0, inpainting_fill=1, inpaint_full_res=False, sampler_index=None)
        r = s.post("/sdapi/v1/img2img", body, key=key)
        assert r.status_code == 200, r.text
        assert base64.b64decode(r.json()["images"][0]) == base64.b64decode(v1.json()["data"][0]["b64_json"]), mask
        # priced as a txt2img of its size and steps plus its input image, as the edits route adds one
        t2i = s.post("/sdapi/v1/txt2img", client_body(prompt="a green square", seed=11, width=1024, height=1024,
                                                      sampler_index=None), key=key)
        gen = s.post("/v1/images/generations", {"prompt": "a green square", "seed": 11, "size": "1024x1024",
                                                "quality": "medium"}, headers={"Authorization": f"Bearer {key}"})
        charged = lambda resp: round(float(resp.headers["x-credits-charged"]) * 1e6)  # noqa: E731
        assert charged(r) - charged(t2i) == charged(v1) - charged(gen) > 0, (charged(r), charged(t2i), charged(v1),
                                                                              charged(gen))
    check_invariant(s, key)


@test
def test_img2img_fill_only_masked_and_its_refusals():
    from PIL import Image
    import io
    import numpy as np
    s, key = prod()
    init, a_mask, _ = init_and_masks()
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    base = dict(prompt="a green square", seed=5, width=1024, height=1024, init_images=[b64(init)], mask=b64(a_mask))
    # the defaults clients send: inpainting_fill 0 (fill), inpaint_full_res true (only masked), mask_blur 4
    r = s.post("/sdapi/v1/img2img", img2img_body(**base), key=key)
    assert r.status_code == 200, r.text
    out = np.asarray(Image.open(io.BytesIO(base64.b64decode(r.json()["images"][0]))).convert("RGB")).astype(int)
    src = np.asarray(Image.open(io.BytesIO(init)).convert("RGB")).astype(int)
    assert out.shape == (1024, 1024, 3)
    # only masked: far from the mask every pixel is the input's; inside it the picture changed
    assert (out[600:, 600:] == src[600:, 600:]).all()
    assert np.abs(out[150:350, 150:350] - src[150:350, 150:350]).mean() > 5
    whole = s.post("/sdapi/v1/img2img", img2img_body(inpaint_full_res=False, **base), key=key)
    assert whole.status_code == 200 and whole.json()["images"][0] != r.json()["images"][0]
    inv = s.post("/sdapi/v1/img2img", img2img_body(inpainting_mask_invert=1, inpaint_full_res=False, **base), key=key)
    assert inv.status_code == 200 and inv.json()["images"][0] != whole.json()["images"][0]
    before = s.ledger(key)
    for over, param in (({"inpainting_fill": 2}, "inpainting_fill"), ({"resize_mode": 1}, "resize_mode"),
                        ({"init_images": []}, "init_images"), ({"init_images": ["not base64!"]}, "init_images"),
                        ({"mask": "AAAA"}, "mask"), ({"denoising_strength": 1.5}, "denoising_strength")):
        body = img2img_body(**dict(base, **over))
        r = s.post("/sdapi/v1/img2img", body, key=key)
        assert r.status_code == 400 and r.json()["param"] == param, (over, r.text)
    r = s.post("/sdapi/v1/img2img", {k: v for k, v in img2img_body(**base).items() if k != "init_images"}, key=key)
    assert r.status_code == 400 and r.json()["param"] == "init_images", r.text
    assert s.ledger(key) == before
    check_invariant(s, key)


@test
def test_zz_the_product_server_stops_cleanly():
    # last: the product server of the tests above stops, and its log has no sanitizer report
    if "s" in PROD_SERVER:
        s = PROD_SERVER.pop("s")
        s.cleanup()


if __name__ == "__main__":
    try:
        main()
    finally:
        if "s" in PROD_SERVER:
            PROD_SERVER["s"].cleanup()
