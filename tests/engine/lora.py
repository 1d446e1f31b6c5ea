"""Adapters (issue 29): every adapter type and naming scheme that tools/make_lora.py writes
changes the golden UNet's (and text encoder's) output exactly as the script's independent merge
says, at strengths 0, 0.5 and 1, two adapters stack, and bad adapters are clear errors. Driven
from the outside through `imgapi debug unet|text-encoder --lora FILE:SCALE`."""
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "api"))
import numpy as np  # noqa: E402
import requests  # noqa: E402
from golden import load, rel_err, save  # noqa: E402
from harness import Server, check_invariant, main, test  # noqa: E402

BIN = os.environ.get("IMGAPI_PROD_BIN", "build/imgapi")
GOLDEN = os.environ.get("IMGAPI_GOLDEN", os.path.join(HERE, "..", "..", "..", "shared", "golden"))
TMP = tempfile.mkdtemp(prefix="imgapi-lora-")
ADAPTERS = os.path.join(TMP, "adapters")
UNET = os.path.join(GOLDEN, "unet_sd1_small")
CLIP = os.path.join(GOLDEN, "clip_text_hf_layout")
OPENCLIP = os.path.join(GOLDEN, "clip_text_openai_layout")
IO = {"unet": os.path.join(UNET, "io.safetensors"), "text-encoder": os.path.join(CLIP, "io.safetensors"),
      "text-encoder-openclip": os.path.join(OPENCLIP, "io.safetensors")}
KEYS = {"unet": ("a.out", "b.out"), "text-encoder": ("last_hidden_state", "penultimate_hidden_state"),
        "text-encoder-openclip": ("last_hidden_state", "penultimate_ln_final")}


def run(component, weights, out, *loras, check=True):
    args = [BIN, "debug", component.replace("-openclip", ""), "--weights", weights, "--inputs", IO[component], "--out",
            out, "--threads", "2"]
    for lo in loras:
        args += ["--lora", lo]
    p = subprocess.run(args, capture_output=True, text=True, timeout=600)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def manifest():
    path = os.path.join(ADAPTERS, "manifest.json")
    if not os.path.exists(path):
        subprocess.run([sys.executable, os.path.join(HERE, "..", "..", "tools", "make_lora.py"), "--unet",
                        os.path.join(UNET, "weights.safetensors"), "--clip", os.path.join(CLIP, "weights.safetensors"),
                        "--openclip", os.path.join(OPENCLIP, "weights.safetensors"), "--out", ADAPTERS], check=True)
    with open(path) as f:
        return json.load(f)


def base_output(component):
    out = os.path.join(TMP, f"base-{component}.safetensors")
    if not os.path.exists(out):
        run(component, os.path.join({"unet": UNET, "text-encoder": CLIP, "text-encoder-openclip": OPENCLIP}[component],
                                    "weights.safetensors"), out)
    return load(out)


def check_case(i, case):
    comp = case["component"]
    got_path, ref_path = os.path.join(TMP, f"got{i}.safetensors"), os.path.join(TMP, f"ref{i}.safetensors")
    p = run(comp, case["base"], got_path, *[f"{f}:{s}" for f, s in case["adapters"]])
    run(comp, case["merged"], ref_path)
    got, ref, base = load(got_path), load(ref_path), base_output(comp)
    name = "+".join(f"{os.path.basename(f)}:{s}" for f, s in case["adapters"])
    for k in KEYS[comp]:
        e, moved = rel_err(got[k], ref[k]), rel_err(base[k], ref[k])
        print(f"     {name:42s} {k:26s} rel err {e:.2e} (the adapter moves it {moved:.2e})")
        assert e <= 1e-5, (name, k, e)
        if all(s == 0 for _, s in case["adapters"]):
            assert rel_err(got[k], base[k]) == 0, (name, k)
        else:
            assert moved > 1e-3, (name, k, moved)  # the case tests something
    assert "modules applied" in p.stderr, p.stderr


@test
def test_each_unet_adapter_type_and_naming_at_strengths_0_half_and_1():
    for i, case in enumerate(manifest()):
        if case["component"] == "unet" and len(case["adapters"]) == 1:
            check_case(i, case)


@test
def test_text_encoder_adapters_kohya_and_peft_names():
    for i, case in enumerate(manifest()):
        if case["component"] == "text-encoder":
            check_case(i, case)


@test
def test_openclip_text_encoder_adapters_split_the_fused_qkv():
    """SD 2.x's and SDXL's second text encoder: adapters name q, k and v in the HF layout, the
    checkpoint holds them fused in one in_proj (rows q, k, v); LoRA with kohya names, DoRA with
    PEFT names."""
    cases = [(i, c) for i, c in enumerate(manifest()) if c["component"] == "text-encoder-openclip"]
    assert len(cases) == 6
    for i, case in cases:
        check_case(i, case)


@test
def test_two_adapters_stack_in_order():
    cases = [c for c in manifest() if len(c["adapters"]) > 1]
    assert cases
    for i, case in enumerate(cases):
        check_case(100 + i, case)


@test
def test_a_file_that_is_no_adapter_or_for_another_model_is_a_clear_error():
    m = manifest()
    lora = next(f for c in m for f, _ in c["adapters"] if "lora_kohya_diffusers" in f)
    out = os.path.join(TMP, "x.safetensors")
    # an SD1 adapter on the SDXL-shaped UNet: what names nothing there is skipped, and said
    p = subprocess.run([BIN, "debug", "unet", "--weights", os.path.join(GOLDEN, "unet_sdxl_small", "weights.safetensors"),
                        "--inputs", os.path.join(GOLDEN, "unet_sdxl_small", "io.safetensors"), "--out", out, "--lora",
                        lora], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0 and "10 of 13 modules applied" in p.stderr and "skipped" in p.stderr, p.stderr
    # a module whose shapes do not fit the weight it names (an adapter for another model)
    bad = os.path.join(TMP, "wrong_shape.safetensors")
    save(bad, {"lora_unet_input_blocks_1_1_proj_in.lora_down.weight": np.ones((4, 48), np.float32),
               "lora_unet_input_blocks_1_1_proj_in.lora_up.weight": np.ones((32, 4), np.float32),
               "lora_unet_input_blocks_1_1_proj_in.alpha": np.array(4, np.float32)})
    p = run("unet", os.path.join(UNET, "weights.safetensors"), out, bad, check=False)
    assert p.returncode == 1 and "wrong_shape" in p.stderr and "does not fit" in p.stderr, p.stderr
    assert "input_blocks_1_1_proj_in" in p.stderr, p.stderr
    # a UNet adapter on the text encoder: none of its modules is there
    p = run("text-encoder", os.path.join(CLIP, "weights.safetensors"), out, lora, check=False)
    assert p.returncode == 1 and "none of its 13 modules" in p.stderr, p.stderr
    # a safetensors file without adapter tensors, a missing file, a file that is no safetensors
    p = run("unet", os.path.join(UNET, "weights.safetensors"), out, IO["unet"], check=False)
    assert p.returncode == 1 and "holds no LoRA" in p.stderr, p.stderr
    p = run("unet", os.path.join(UNET, "weights.safetensors"), out, os.path.join(TMP, "absent.safetensors:0.5"),
            check=False)
    assert p.returncode == 1 and "absent.safetensors" in p.stderr, p.stderr
    junk = os.path.join(TMP, "junk.safetensors")
    with open(junk, "wb") as f:
        f.write(b"\xff" * 64)
    p = run("unet", os.path.join(UNET, "weights.safetensors"), out, junk, check=False)
    assert p.returncode == 1 and "junk.safetensors" in p.stderr, p.stderr
    # --lora only where adapters apply
    p = subprocess.run([BIN, "debug", "vae-decoder", "--weights", "w", "--inputs", "i", "--out", out, "--lora", lora],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "--lora" in p.stderr, p.stderr


ROOT = os.path.join(HERE, "..", "..")


def builtin_lora(path, seed=11):
    """A kohya LoRA (rank 4, alpha 4) on every attention projection of the built-in model's UNet,
    strong enough to change its pictures."""
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import make_lora
    base, _ = make_lora.load(os.path.join(ROOT, "models", "imgapi-shapes", "model.safetensors"))
    rng = np.random.default_rng(seed)
    t = {}
    for k, w in base.items():
        if not re.search(r"attn[12]\.to_(q|k|v|out\.0)\.weight$", k) or not k.startswith(make_lora.UNET_PREFIX):
            continue
        name = "lora_unet_" + k[len(make_lora.UNET_PREFIX):-len(".weight")].replace(".", "_")
        t[name + ".lora_down.weight"] = (rng.standard_normal((4, w.shape[1])) * 0.5).astype(np.float32)
        t[name + ".lora_up.weight"] = (rng.standard_normal((w.shape[0], 4)) * float(np.abs(w).mean())).astype(np.float32)
        t[name + ".alpha"] = np.array(4, np.float32)
    make_lora.save(path, t)


def metric(s, name):
    text = requests.get(s.url("/metrics"), timeout=10).text
    m = re.search(r"^" + re.escape(name) + r" ([0-9.e+-]+)$", text, re.M)
    return float(m.group(1)) if m else None


@test
def test_served_loras_through_the_openai_sdk_and_seed_json():
    """A request with <lora:NAME:0.7> through the OpenAI SDK differs from one without; a repeat,
    and the same adapter given in "loras", is served from the merged copy (one merge in the
    metrics); unknown, ill-named and ill-fitting adapters are 400s that cost nothing."""
    lora_dir = os.path.join(TMP, "loras")
    os.makedirs(lora_dir, exist_ok=True)
    builtin_lora(os.path.join(lora_dir, "shapes-style.safetensors"))
    m = manifest()  # an SD1-golden-sized adapter: it does not fit the built-in model
    src = next(f for c in m for f, _ in c["adapters"] if f.endswith("lora_kohya_ldm.safetensors"))
    os.symlink(os.path.abspath(src), os.path.join(lora_dir, "other-model.safetensors"))
    with open(os.path.join(lora_dir, ".hidden.safetensors"), "wb") as f:
        f.write(b"x")
    s = Server(args=["--config", "/dev/null", "--lora-dir", lora_dir], binary=BIN)
    try:
        s.start()
        key = s.new_key("5")
        h = {"x-api-key": key}
        r = requests.get(s.url("/v1/models"), headers=h, timeout=10)
        assert r.status_code == 200 and [x["name"] for x in r.json()["loras"]] == ["other-model", "shapes-style"], r.text
        p = subprocess.run(["node", os.path.join(ROOT, "tests", "sdk", "openai_sdk_lora.mjs"), s.url(""), key,
                            "shapes-style"], capture_output=True, text=True, timeout=900,
                           cwd=os.path.join(ROOT, "tests", "sdk"))
        assert p.returncode == 0, p.stderr + p.stdout
        got = json.loads(p.stdout.strip().splitlines()[-1])
        print("     SDK:", {k: v for k, v in got.items() if k != "unknown"}, got["unknown"]["status"])
        assert got["differs"] and got["repeat_same"] and got["field_same_as_tag"], got
        u = got["unknown"]
        assert u and u["bad_request"] and u["status"] == 400 and u["param"] == "loras", u
        assert "no-such-adapter" in u["message"], u
        assert metric(s, "imgapi_lora_merge_seconds_count") == 1, requests.get(s.url("/metrics")).text
        assert metric(s, "imgapi_lora_merge_seconds_sum") > 0
        # seed-shaped JSON: "loras" field; bad names and scales; an adapter for another model
        body = {"prompt": "a blue square on a yellow background", "quality": "low", "seed": 9,
                "loras": [{"name": "shapes-style", "scale": -0.5}]}
        r = requests.post(s.url("/v1/gpt-image-1-mini"), json=body, headers=h, timeout=300)
        assert r.status_code == 200, r.text
        before = s.ledger(key)  # the refusals below cost nothing
        for loras, param in (([{"name": "../etc/passwd"}], "loras"), ([{"name": "shapes-style", "scale": 100}], "loras"),
                             ([{"name": "shapes-style", "weight": 1}], "loras"), ("shapes-style", "loras")):
            r = requests.post(s.url("/v1/gpt-image-1-mini"), json=dict(body, loras=loras), headers=h, timeout=60)
            assert r.status_code == 400 and param in r.text, (loras, r.text)
        r = requests.post(s.url("/v1/gpt-image-1-mini"), json=dict(body, prompt="<lora:shapes-style:1.2"), headers=h,
                          timeout=60)
        assert r.status_code == 400 and "not closed" in r.text, r.text
        r = requests.post(s.url("/v1/gpt-image-1-mini"), json=dict(body, prompt="<lora:shapes-style>", loras=[]),
                          headers=h, timeout=60)
        assert r.status_code == 400 and "empty" in r.text, r.text
        r = requests.post(s.url("/v1/gpt-image-1-mini"), json=dict(body, loras=[{"name": "other-model"}]), headers=h,
                          timeout=300)
        assert r.status_code == 400 and "other-model" in r.text and "does not fit" in r.text, r.text
        assert lora_dir not in r.text  # the client never learns the folder
        after = s.ledger(key)
        assert after == before, (before, after)
        assert check_invariant(s, key)["reserved"] == 0
    finally:
        s.cleanup()


if __name__ == "__main__":
    import shutil
    try:
        code = main()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(code)
