"""Adapters (issue 29): every adapter type and naming scheme that tools/make_lora.py writes
changes the golden UNet's (and text encoder's) output exactly as the script's independent merge
says, at strengths 0, 0.5 and 1, two adapters stack, and bad adapters are clear errors. Driven
from the outside through `imgapi debug unet|text-encoder --lora FILE:SCALE`."""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "api"))
import numpy as np  # noqa: E402
from golden import load, rel_err, save  # noqa: E402
from harness import main, test  # noqa: E402

BIN = os.environ.get("IMGAPI_PROD_BIN", "build/imgapi")
GOLDEN = os.environ.get("IMGAPI_GOLDEN", os.path.join(HERE, "..", "..", "..", "shared", "golden"))
TMP = tempfile.mkdtemp(prefix="imgapi-lora-")
ADAPTERS = os.path.join(TMP, "adapters")
UNET = os.path.join(GOLDEN, "unet_sd1_small")
CLIP = os.path.join(GOLDEN, "clip_text_hf_layout")
IO = {"unet": os.path.join(UNET, "io.safetensors"), "text-encoder": os.path.join(CLIP, "io.safetensors")}
KEYS = {"unet": ("a.out", "b.out"), "text-encoder": ("last_hidden_state", "penultimate_hidden_state")}


def run(component, weights, out, *loras, check=True):
    args = [BIN, "debug", component, "--weights", weights, "--inputs", IO[component], "--out", out, "--threads", "2"]
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
                        "--out", ADAPTERS], check=True)
    with open(path) as f:
        return json.load(f)


def base_output(component):
    out = os.path.join(TMP, f"base-{component}.safetensors")
    if not os.path.exists(out):
        run(component, os.path.join(UNET if component == "unet" else CLIP, "weights.safetensors"), out)
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


if __name__ == "__main__":
    import shutil
    try:
        code = main()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(code)
