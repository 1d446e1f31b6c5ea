"""Diffusers folders and VAEs (issue 29): a random SDXL-shaped and SD 2.x-shaped model, written as a
single LDM file by tools/make_random_checkpoint.py and as a diffusers folder by
tools/make_diffusers_folder.py (sharded UNet, fp16-variant file names, OpenCLIP text towers in
the HF layout), make the same image, byte for byte, through `imgapi generate`, and so does the
single file with the folder's VAE given as a separate VAE (its folder, or its file); broken folders
and malformed models are clear errors, never crashes."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(HERE, "..", "api"))
from harness import main, test  # noqa: E402

BIN = os.environ.get("IMGAPI_PROD_BIN", "build/imgapi")
TMP = tempfile.mkdtemp(prefix="imgapi-diffusers-")
TOKENIZER = os.path.join(ROOT, "models", "imgapi-shapes")  # a CLIP BPE vocabulary (small)


def tool(*args):
    subprocess.run([sys.executable, os.path.join(ROOT, "tools", args[0]), *args[1:]], check=True,
                   capture_output=True, text=True)


def generate(checkpoint, out, tokenizer=TOKENIZER, check=True, vae=None, prompt="a red cube on a table",
             extra=""):
    conf = os.path.join(TMP, "m.conf")
    with open(conf, "w") as f:
        f.write(f"model.m.checkpoint = {checkpoint}\nbuiltin_model = 0\n{extra}")
        if vae:
            f.write(f"model.m.vae = {vae}\n")
        if tokenizer:
            f.write(f"model.m.tokenizer = {tokenizer}\n")
    p = subprocess.run([BIN, "generate", prompt, "--config", conf, "--model", "m", "-o", out,
                        "--seed", "11", "--quality", "low", "--threads", "2"], capture_output=True, text=True,
                       timeout=600)
    if check:
        assert p.returncode == 0 and os.path.exists(out), p.stderr
    return p


def read(path):
    with open(path, "rb") as f:
        return f.read()


def same_image_from_file_and_folder(arch, dtype, *folder_args):
    single = os.path.join(TMP, f"{arch}.safetensors")
    folder = os.path.join(TMP, f"{arch}-diffusers")
    tool("make_random_checkpoint.py", arch, single, "--dtype", dtype, "--seed", "5")
    tool("make_diffusers_folder.py", single, TOKENIZER, folder, "--head-channels", "16", *folder_args)
    a, b = os.path.join(TMP, f"{arch}-file.png"), os.path.join(TMP, f"{arch}-folder.png")
    generate(single, a)
    generate(folder, b, tokenizer=None)  # the folder's own tokenizer/
    with open(a, "rb") as fa, open(b, "rb") as fb:
        da, db = fa.read(), fb.read()
    print(f"     {arch}: {len(da)} bytes from the file, {len(db)} from the folder, identical: {da == db}")
    assert da == db
    # the folder's VAE as a separate VAE of the single file: its own folder, or its one file
    for vae in (os.path.join(folder, "vae"), os.path.join(folder, "vae", "diffusion_pytorch_model.safetensors")):
        c = os.path.join(TMP, f"{arch}-vae.png")
        generate(single, c, vae=vae)
        with open(c, "rb") as fc:
            assert fc.read() == da, vae
    # ... and it is that VAE that decodes: one with another output bias gives another image
    other = os.path.join(TMP, f"{arch}-other-vae")
    shutil.copytree(os.path.join(folder, "vae"), other)
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import safetensors_np as stnp
    w, _ = stnp.load(os.path.join(other, "diffusion_pytorch_model.safetensors"))
    w = {k: v.copy() for k, v in w.items()}
    w["decoder.conv_out.bias"] += w["decoder.conv_out.bias"].dtype.type(0.5)
    stnp.save(os.path.join(other, "diffusion_pytorch_model.safetensors"), w)
    generate(single, c, vae=other)
    with open(c, "rb") as fc:
        assert fc.read() != da
    return folder


@test
def test_sdxl_shaped_folder_sharded_fp16_variant_makes_the_same_image():
    folder = same_image_from_file_and_folder("sdxl-tiny", "f16", "--shards", "3", "--fp16-variant")
    assert os.path.exists(os.path.join(folder, "unet", "diffusion_pytorch_model.safetensors.index.json"))
    assert os.path.exists(os.path.join(folder, "text_encoder_2", "model.fp16.safetensors"))


@test
def test_sd2_shaped_folder_with_an_openclip_text_encoder_makes_the_same_image():
    folder = same_image_from_file_and_folder("sd21-tiny", "f32")
    # `imgapi convert` makes one file of the folder, which gives the same image again
    one = os.path.join(TMP, "sd21-converted.safetensors")
    p = subprocess.run([BIN, "convert", "--type", "f32", folder, one], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    generate(one, os.path.join(TMP, "converted.png"))
    assert read(os.path.join(TMP, "converted.png")) == read(os.path.join(TMP, "sd21-tiny-file.png"))


@test
def test_broken_folders_and_malformed_models_are_clear_errors():
    src = os.path.join(TMP, "sd21-tiny-diffusers")
    if not os.path.isdir(src):
        same_image_from_file_and_folder("sd21-tiny", "f32")
    # no unet/ weights
    bad = os.path.join(TMP, "no-unet")
    shutil.copytree(src, bad)
    os.remove(os.path.join(bad, "unet", "diffusion_pytorch_model.safetensors"))
    p = generate(bad, os.path.join(TMP, "x.png"), check=False)
    assert p.returncode != 0 and "no unet/ weights" in p.stderr, p.stderr
    # a shard index that points outside the folder, and one naming a missing shard
    for shard, why in (("../../evil.safetensors", "plain file names"), ("missing.safetensors", "cannot open")):
        with open(os.path.join(bad, "unet", "diffusion_pytorch_model.safetensors.index.json"), "w") as f:
            json.dump({"weight_map": {"conv_in.weight": shard}}, f)
        p = generate(bad, os.path.join(TMP, "x.png"), check=False)
        assert p.returncode != 0 and why in p.stderr, p.stderr
    # a folder that is no model, and no tokenizer anywhere
    empty = os.path.join(TMP, "empty")
    os.makedirs(empty)
    p = generate(empty, os.path.join(TMP, "x.png"), check=False)
    assert p.returncode != 0 and ("tokenizer" in p.stderr or "not a diffusers model" in p.stderr), p.stderr
    p = generate(empty, os.path.join(TMP, "x.png"), tokenizer=TOKENIZER, check=False)
    assert p.returncode != 0 and "not a diffusers model" in p.stderr, p.stderr
    # a VAE whose widths do not split into GroupNorm's 32 groups: refused at load, no crash
    narrow = os.path.join(TMP, "narrow.safetensors")
    tool("make_random_checkpoint.py", "sd21-tiny", narrow, "--dtype", "f16", "--vae-channels", "16")
    p = generate(narrow, os.path.join(TMP, "x.png"), check=False)
    assert p.returncode == 1 and "GroupNorm" in p.stderr, (p.returncode, p.stderr)




@test
def test_textual_inversion_embeddings_stand_for_their_vectors():
    """An embedding whose vectors are the token embeddings of "red circle" makes the same image
    as those words (SD 2.x: emb_params; SDXL: clip_l + clip_g, one set per encoder); other
    vectors another; a file for another model's widths is skipped, its name left as text."""
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import safetensors_np as stnp
    import numpy as np
    with open(os.path.join(TOKENIZER, "vocab.json")) as f:
        vocab = json.load(f)
    ids = [vocab["red</w>"], vocab["circle</w>"]]
    for arch, dtype, tables in (("sd21-tiny", "f32", {"emb_params": "cond_stage_model.model.token_embedding.weight"}),
                                ("sdxl-tiny", "f16",
                                 {"clip_l": "conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight",
                                  "clip_g": "conditioner.embedders.1.model.token_embedding.weight"})):
        single = os.path.join(TMP, f"{arch}-ti.safetensors")
        tool("make_random_checkpoint.py", arch, single, "--dtype", dtype, "--seed", "9")
        w, _ = stnp.load(single)
        emb = os.path.join(TMP, f"{arch}-emb")
        os.makedirs(emb, exist_ok=True)
        stnp.save(os.path.join(emb, "ShinyThing.safetensors"),
                 {k: w[v][ids].astype(np.float32) for k, v in tables.items()})
        rng = np.random.default_rng(1)
        stnp.save(os.path.join(emb, "otherthing.safetensors"),
                 {k: (rng.standard_normal((2, w[v].shape[1])) * 0.5).astype(np.float32) for k, v in tables.items()})
        stnp.save(os.path.join(emb, "wrongwidth.safetensors"), {"emb_params": np.ones((1, 768), np.float32)})
        conf = f"embeddings_dir = {emb}\n"
        out = {}
        for key, prompt, extra in (("words", "a red circle on a table", conf), ("emb", "a shinything on a table", conf),
                                   ("other", "a otherthing on a table", conf),
                                   ("wrong", "a wrongwidth on a table", conf), ("plain", "a wrongwidth on a table", "")):
            path = os.path.join(TMP, f"{arch}-{key}.png")
            generate(single, path, prompt=prompt, extra=extra)
            out[key] = read(path)
        print(f"     {arch}: embedding = words {out['emb'] == out['words']}, other vectors differ "
              f"{out['other'] != out['words']}, misfit left as text {out['wrong'] == out['plain']}")
        assert out["emb"] == out["words"] and out["other"] != out["words"] and out["wrong"] == out["plain"]


if __name__ == "__main__":
    try:
        code = main()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(code)
