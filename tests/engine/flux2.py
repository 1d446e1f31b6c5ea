"""FLUX.2 components (issue 33) against goldens made with Black Forest Labs' reference code
and transformers' Qwen3 (tools/golden/flux2_*.py, qwen3_text.py; tests/engine/data/): the
autoencoder's decoder and encoder, the transformer, the schedule and sampler and the Qwen3 text
encoder through `imgapi debug flux-ae-decoder|flux-ae-encoder|flux-transformer|flux-schedule|
flux-sampler|qwen3-text`, and the pipeline end to end (`flux-pipeline`), with the weights written
again here from their seeds
(tools/golden/*_weights.py), within 1e-4 of each output's range (SPEC's bound for an f32
engine); files and inputs that do not fit are clear errors."""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "api"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "tools", "golden"))
import flux2_ae_weights  # noqa: E402
import flux2_transformer_weights  # noqa: E402
import qwen3_text_weights  # noqa: E402
from golden import load, rel_err  # noqa: E402
from harness import main, test  # noqa: E402
from safetensors_np import save  # noqa: E402

BIN = os.environ.get("IMGAPI_PROD_BIN", "build/imgapi")
DATA = os.path.join(HERE, "data", "flux2_ae")
TMP = tempfile.mkdtemp(prefix="imgapi-flux2-")
WEIGHTS = os.path.join(TMP, "ae.safetensors")


def debug(component, weights, inputs, out, *extra):
    return subprocess.run([BIN, "debug", component, "--weights", weights, "--inputs", inputs, "--out", out,
                           "--threads", "2", *extra], capture_output=True, text=True, timeout=300)


def pipeline_errors(d, label):
    """`imgapi debug flux-pipeline` on the model folder d against the golden cases: each case's
    relative error of the decoded image (printed)."""
    io = os.path.join(HERE, "data", "flux2_pipeline", "io.safetensors")
    out = os.path.join(TMP, label + ".out")
    p = debug("flux-pipeline", d, io, out)
    assert p.returncode == 0, p.stderr
    gold, got = load(io), load(out)
    errs = {}
    for case in ("a", "b", "c"):
        errs[case] = rel_err(got[case + ".out"], gold[case + ".out"])
        print(f"     {label} {case}.out {tuple(gold[case + '.out'].shape)}: {errs[case]:.1e}")
    return errs


@test
def test_autoencoder_decoder_and_encoder_match_the_reference():
    save(WEIGHTS, flux2_ae_weights.weights())
    for comp, keys in (("decoder", ("image",)), ("encoder", ("latent", "moments", "mean"))):
        gold = load(os.path.join(DATA, comp + ".safetensors"))
        out = os.path.join(TMP, comp + ".out")
        p = debug("flux-ae-" + comp, WEIGHTS, os.path.join(DATA, comp + ".safetensors"), out)
        assert p.returncode == 0, p.stderr
        got = load(out)
        for case in ("a", "b"):
            for k in keys:
                e = rel_err(got[f"{case}.{k}"], gold[f"{case}.{k}"])
                print(f"     {comp} {case}.{k} {tuple(gold[case + '.' + k].shape)}: {e:.1e}")
                assert e <= 1e-4, (comp, case, k, e)


@test
def test_files_that_are_no_flux2_autoencoder_are_clear_errors():
    w = flux2_ae_weights.weights()
    del w["bn.running_var"]
    nobn = os.path.join(TMP, "nobn.safetensors")
    save(nobn, w)
    p = debug("flux-ae-decoder", nobn, os.path.join(DATA, "decoder.safetensors"), os.path.join(TMP, "x"))
    assert p.returncode == 1 and "bn.running_var" in p.stderr, p.stderr
    noenc = os.path.join(TMP, "noenc.safetensors")
    save(noenc, {k: v for k, v in flux2_ae_weights.weights().items() if not k.startswith("encoder.")})
    p = debug("flux-ae-encoder", noenc, os.path.join(DATA, "encoder.safetensors"), os.path.join(TMP, "x"))
    assert p.returncode == 1 and "has no encoder" in p.stderr, p.stderr
    import numpy as np
    bad = os.path.join(TMP, "bad-inputs.safetensors")
    save(bad, {"a.latent": np.zeros((1, 64, 4, 4), np.float32), "a.image": np.zeros((1, 3, 30, 30), np.float32)})
    p = debug("flux-ae-decoder", noenc, bad, os.path.join(TMP, "x"))
    assert p.returncode == 1 and "needs a.latent [1, 128, h, w]" in p.stderr, p.stderr
    save(WEIGHTS, flux2_ae_weights.weights())
    p = debug("flux-ae-encoder", WEIGHTS, bad, os.path.join(TMP, "x"))
    assert p.returncode == 1 and "(H, W multiples of 4)" in p.stderr, p.stderr  # this small one: 2 * 2
    p = debug("flux-ae-decoder", WEIGHTS, nobn, os.path.join(TMP, "x"))  # weights given as inputs
    assert p.returncode == 1 and "no case" in p.stderr, p.stderr


@test
def test_transformer_matches_the_reference_with_reference_image_tokens():
    """Case a: a 3 x 4 latent and 5 text tokens; b: a 2 x 6 latent with a reference image's 2 x 3
    latent appended at time index 1 (how multi-reference editing feeds it), 7 text tokens."""
    w = os.path.join(TMP, "dit.safetensors")
    save(w, flux2_transformer_weights.weights())
    io = os.path.join(HERE, "data", "flux2_transformer", "io.safetensors")
    out = os.path.join(TMP, "dit.out")
    p = debug("flux-transformer", w, io, out)
    assert p.returncode == 0, p.stderr
    gold, got = load(io), load(out)
    for case in ("a", "b"):
        e = rel_err(got[case + ".out"], gold[case + ".out"])
        print(f"     transformer {case}.out {tuple(gold[case + '.out'].shape)}: {e:.1e}")
        assert e <= 1e-4, (case, e)
    import numpy as np
    g = {k: v for k, v in gold.items() if k.startswith("a.") and k not in ("a.out", "a.guidance")}
    bad = os.path.join(TMP, "dit-bad.safetensors")
    save(bad, g)  # the model has guidance_in: a case without guidance is refused
    p = debug("flux-transformer", w, bad, out)
    assert p.returncode == 1 and ".guidance [1]" in p.stderr, p.stderr
    g["a.guidance"] = np.ones(1, np.float32)
    g["a.x"] = np.zeros((1, 12, 8), np.float32)  # the wrong latent width
    save(bad, g)
    p = debug("flux-transformer", w, bad, out)
    assert p.returncode == 1 and "needs a.x [1, N, 16]" in p.stderr, p.stderr
    p = debug("flux-transformer", WEIGHTS, io, out)  # an autoencoder is no transformer
    assert p.returncode == 1 and "no FLUX.2 transformer" in p.stderr, p.stderr



@test
def test_schedule_and_sampler_match_the_reference():
    """get_schedule for five (steps, image tokens) pairs within 1e-6 absolute (the times are in
    [0, 1]); three Euler steps of the small transformer with a reference image's tokens (ids at
    time index 10, as the first reference is placed) within 1e-4."""
    import re

    import numpy as np
    gold = load(os.path.join(HERE, "data", "flux2_sampler", "io.safetensors"))
    ins = {}
    for k in gold:
        m = re.fullmatch(r"s(\d+)_(\d+)\.timesteps", k)
        if m:
            ins[f"s{m[1]}_{m[2]}.steps"] = np.array([float(m[1])], np.float32)
            ins[f"s{m[1]}_{m[2]}.seq_len"] = np.array([float(m[2])], np.float32)
    assert len(ins) == 10
    sin, sout = os.path.join(TMP, "sched-in.st"), os.path.join(TMP, "sched.out")
    save(sin, ins)
    p = subprocess.run([BIN, "debug", "flux-schedule", "--inputs", sin, "--out", sout], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    got = load(sout)
    for k in got:
        e = float(np.max(np.abs(got[k] - gold[k])))
        print(f"     schedule {k}: {len(got[k]) - 1} steps, max difference {e:.1e}")
        assert got[k].shape == gold[k].shape and e <= 1e-6, (k, e)
    w = os.path.join(TMP, "dit.safetensors")
    save(w, flux2_transformer_weights.weights())
    out = os.path.join(TMP, "sampler.out")
    p = debug("flux-sampler", w, os.path.join(HERE, "data", "flux2_sampler", "io.safetensors"), out)
    assert p.returncode == 0, p.stderr
    e = rel_err(load(out)["a.out"], gold["a.out"])
    print(f"     sampler a.out (3 steps, 6 reference tokens): {e:.1e}")
    assert e <= 1e-4, e
    save(sin, {"a.steps": np.array([0.0], np.float32), "a.seq_len": np.array([16.0], np.float32)})
    p = subprocess.run([BIN, "debug", "flux-schedule", "--inputs", sin, "--out", sout], capture_output=True, text=True)
    assert p.returncode == 1 and "a.steps [1] (1 to 1000)" in p.stderr, p.stderr



@test
def test_qwen3_text_encoder_matches_the_reference_with_padding():
    """The hidden states after 2, 4 and 6 of 8 layers (a quarter, half, three quarters, as FLUX.2
    [klein] takes 9, 18, 27 of 36) and their stack; case b has 4 padding tokens at its end."""
    import numpy as np
    w = os.path.join(TMP, "qwen3.safetensors")
    save(w, qwen3_text_weights.weights())
    io = os.path.join(HERE, "data", "qwen3_text", "io.safetensors")
    out = os.path.join(TMP, "qwen3.out")
    p = debug("qwen3-text", w, io, out)
    assert p.returncode == 0, p.stderr
    gold, got = load(io), load(out)
    for case in ("a", "b"):
        for k in ("ctx", "hidden_states.2", "hidden_states.4", "hidden_states.6"):
            e = rel_err(got[f"{case}.{k}"], gold[f"{case}.{k}"])
            print(f"     qwen3 {case}.{k} {tuple(gold[case + '.' + k].shape)}: {e:.1e}")
            assert e <= 1e-4, (case, k, e)
    bad = os.path.join(TMP, "qwen3-bad.safetensors")
    for tokens, mask, why in ((np.array([[1, 2, 300]], np.int32), None, "ids below 300"),
                              (np.array([[1, 2, 3]], np.int32), np.array([[1, 0, 1]], np.int32), "then zeros")):
        t = {"a.tokens": tokens}
        if mask is not None:
            t["a.attention_mask"] = mask
        save(bad, t)
        p = debug("qwen3-text", w, bad, out)
        assert p.returncode == 1 and why in p.stderr, p.stderr


@test
def test_the_pipeline_end_to_end_matches_the_reference_pipeline():
    """Prompt to image through imgapi's pipeline (tokenizer, chat template, Qwen3, the shifted
    schedule, Euler over the transformer's velocity, the autoencoder), and an edit whose image
    joins as reference tokens, against the reference composition (data/flux2_pipeline/README.md),
    within 1e-3 of the image's range; the noise is the golden's."""
    import flux2_pipeline_weights
    d = os.path.join(TMP, "pipeline")
    flux2_pipeline_weights.write(d)
    for case, e in pipeline_errors(d, "pipeline").items():
        assert e <= 1e-3, (case, e)


@test
def test_a_flux2_model_missing_a_part_is_a_clear_error():
    import flux2_pipeline_weights
    d = os.path.join(TMP, "pipeline-parts")
    paths = flux2_pipeline_weights.write(d)
    io = os.path.join(HERE, "data", "flux2_pipeline", "io.safetensors")
    for part, words in (("text_encoder", "text encoder"), ("ae", "autoencoder"), ("tokenizer", "tokenizer")):
        os.rename(paths[part], paths[part] + ".away")
        p = debug("flux-pipeline", d, io, os.path.join(TMP, "x"))
        os.rename(paths[part] + ".away", paths[part])
        assert p.returncode == 1 and ("cannot" in p.stderr or words in p.stderr), (part, p.stderr)
    # a text encoder whose width does not fit the transformer's context
    w = qwen3_text_weights.weights()  # hidden 64: 192 stacked, the transformer takes 96
    save(paths["text_encoder"], w)
    p = debug("flux-pipeline", d, io, os.path.join(TMP, "x"))
    assert p.returncode == 1 and "context" in p.stderr, p.stderr


def tiny_flux_config(name, extra=""):
    """A config file serving the small pipeline model (flux2_pipeline_weights, written into
    TMP/name) as model tiny-flux with profile flux2-klein, and extra lines."""
    import flux2_pipeline_weights
    p = flux2_pipeline_weights.write(os.path.join(TMP, name))
    conf = os.path.join(TMP, name + ".conf")
    with open(conf, "w") as f:
        f.write(f"model.tiny-flux.checkpoint = {p['transformer']}\nmodel.tiny-flux.vae = {p['ae']}\n"
                f"model.tiny-flux.text_encoder = {p['text_encoder']}\nmodel.tiny-flux.tokenizer = {p['tokenizer']}\n"
                "model.tiny-flux.profile = flux2-klein\nmodel.tiny-flux.native = 64\nthreads = 2\n" + extra)
    return conf


@test
def test_server_generates_and_edits_with_a_flux2_model():
    """A FLUX.2 model configured as users configure one (transformer checkpoint, autoencoder,
    Qwen3 text encoder, tokenizer, profile flux2-klein, the text encoder released after each
    prompt) behind `imgapi serve`: generation on the
    OpenAI and Segmind routes, edits with one and with two image[] (multipart, as the OpenAI SDK
    sends them), five refused with the model's limit of four, two refused by an SD model with its
    limit of one, /v1/models' capabilities, and an exact ledger."""
    import io as _io

    import requests
    from harness import Server, check_invariant, decode_image
    from PIL import Image
    conf = tiny_flux_config("served", "model.tiny-flux.release_text_encoder = 1\n"  # loaded for every prompt
                                      "default_model = tiny-flux\n")
    s = Server(args=["--config", conf], binary=BIN)
    try:
        s.start()
        key = s.new_key("50")
        r = requests.get(s.url("/v1/models"), headers={"x-api-key": key}, timeout=30)
        m = [x for x in r.json()["data"] if x["id"] == "tiny-flux"][0]
        assert m["capabilities"]["edit"] and m["capabilities"]["max_input_images"] == 4, m
        r = s.post("/v1/images/generations", {"prompt": "a red fox in the snow", "model": "tiny-flux",
                                              "size": "1536x1024", "quality": "low"}, key)
        assert r.status_code == 200, r.text[:300]
        assert decode_image(r.json()["data"][0]["b64_json"]).size == (1536, 1024)
        assert r.json()["usage"]["input_tokens"] > 0
        r = requests.post(s.url("/v1/tiny-flux"), json={"prompt": "a cat", "quality": "high"},
                          headers={"x-api-key": key}, timeout=120)
        assert r.status_code == 200, r.text[:300]
        png = _io.BytesIO()
        Image.new("RGB", (96, 64), (200, 30, 30)).save(png, "PNG")
        h = {"Authorization": f"Bearer {key}"}
        r = requests.post(s.url("/v1/images/edits"), headers=h, timeout=120,
                          files={"image": ("a.png", png.getvalue(), "image/png")},
                          data={"prompt": "make it blue", "model": "tiny-flux", "quality": "low"})
        assert r.status_code == 200, r.text[:300]
        assert decode_image(r.json()["data"][0]["b64_json"]).size == (1536, 1024)  # size auto: the image's aspect
        png2 = _io.BytesIO()
        Image.new("RGB", (40, 40), (10, 200, 30)).save(png2, "PNG")
        two = [("image[]", ("a.png", png.getvalue(), "image/png")), ("image[]", ("b.png", png2.getvalue(), "image/png"))]
        r = requests.post(s.url("/v1/images/edits"), headers=h, timeout=120, files=two,
                          data={"prompt": "the fox of the first in the second", "model": "tiny-flux", "size": "1024x1024"})
        assert r.status_code == 200, r.text[:300]  # two references, each at the working size
        assert r.json()["usage"]["input_tokens_details"]["image_tokens"] > 0, r.json()["usage"]
        five = [("image[]", ("a.png", png.getvalue(), "image/png"))] * 5
        r = requests.post(s.url("/v1/images/edits"), headers=h, timeout=120, files=five,
                          data={"prompt": "five", "model": "tiny-flux"})
        assert r.status_code == 400 and "at most 4 input images" in r.json()["error"]["message"], r.text[:300]
        r = requests.post(s.url("/v1/images/edits"), headers=h, timeout=120, files=two,
                          data={"prompt": "both", "model": "imgapi-shapes"})  # an SD model: one image
        assert r.status_code == 400 and "at most 1 input image" in r.json()["error"]["message"], r.text[:300]
        assert check_invariant(s, key)["reserved"] == 0
    finally:
        s.cleanup()


@test
def test_cli_edit_takes_several_images_on_a_flux2_model():
    """`imgapi edit A B PROMPT` with a FLUX.2 model: both images are references; five are more than
    the model takes (exit 2, saying its limit)."""
    from PIL import Image
    conf = tiny_flux_config("cli")
    a, b, out = (os.path.join(TMP, n) for n in ("cli-a.png", "cli-b.png", "cli-out.png"))
    Image.new("RGB", (64, 64), (200, 40, 40)).save(a)
    Image.new("RGB", (32, 48), (40, 40, 200)).save(b)
    r = subprocess.run([BIN, "edit", a, b, "the first in the second", "--model", "tiny-flux", "--config", conf,
                        "-o", out, "--size", "1024x1024"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert Image.open(out).size == (1024, 1024)
    r = subprocess.run([BIN, "edit", a, a, a, a, a, "five", "--model", "tiny-flux", "--config", conf, "-o", out],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "takes 4 input images, got 5" in r.stderr, r.stderr


@test
def test_a_gguf_q8_0_transformer_is_detected_and_stays_close():
    """The transformer converted to GGUF Q8_0 by `imgapi convert` (the layout community files use:
    BFL's names, 8-bit blocks) is found by its tensors and held in 8 bits; the pipeline's image
    stays within 2e-2 of the f32 reference (7e-3 measured: the weights' 8-bit rounding)."""
    import flux2_pipeline_weights
    d = os.path.join(TMP, "gguf")
    paths = flux2_pipeline_weights.write(d)
    p = subprocess.run([BIN, "convert", "--type", "q8_0", paths["transformer"], os.path.join(d, "transformer.gguf")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    os.remove(paths["transformer"])
    for case, e in pipeline_errors(d, "gguf").items():
        assert 0 < e <= 2e-2, (case, e)


if __name__ == "__main__":
    sys.exit(main())
