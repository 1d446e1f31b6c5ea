#!/usr/bin/env python3
"""Golden images for the FLUX.2 [klein] pipeline end to end (issue 33): prompt -> tokens -> Qwen3
hidden states -> flow sampling with the transformer -> autoencoder decoding, and an edit with a
reference image, made with the reference code of each part on small random configurations:

  tokens       tools/golden/bbpe_ref.py (GPT-2's byte-level BPE written out; the `tokenizers`
               package is not in Debian) on a vocabulary trained here, through Qwen3's chat template
               with thinking off, cut and right-padded to 512 with <|endoftext|>, as
               diffusers' Flux2KleinPipeline._get_qwen3_prompt_embeds does
  text         transformers' modeling_qwen3.py (qwen3_text.py's stand-ins), hidden states after
               1, 2 and 3 of 4 layers (a quarter, half, three quarters) stacked along the features
  sampling     Black Forest Labs' flux2 `sampling.py`: get_schedule(steps, tokens) and denoise
               (Euler over the velocity; an edit's reference tokens appended, image i at time
               position 10 + 10 i, as Flux2KleinPipeline._prepare_image_ids places them), guidance 1
  autoencoder  flux2 `autoencoder.py`: AutoEncoder.encode of the edit's image (uint8 / 127.5 - 1),
               AutoEncoder.decode of the unpacked latent (BatchNorm statistics undone, unpatchified)

The latent's tokens are its pixels row by row (diffusers' _pack_latents), noise planes
[1, C, h, w] from torch's generator seeded 37 given to the pipeline as its initial noise.

  weights: flux2_pipeline_weights.py (transformer.safetensors, ae.safetensors,
           text_encoder.safetensors, tokenizer.json, written again by the test from seeds)
  io.safetensors   per case X: X.noise, X.image (an edit's inputs, uint8 values as floats [n, 3, H, W]),
                   X.out (the decoder's output [1, 3, H, W] in [-1, 1], not clamped); metadata
                   X.prompt, X.steps

Usage: tools/golden/flux2_pipeline.py --flux2-src PATH/flux2/src
           --modeling PATH/modeling_qwen3.py --out tests/engine/data/flux2_pipeline
"""
import argparse
import os
import sys
import types

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
from safetensors_np import save  # noqa: E402

import bbpe_ref  # noqa: E402
import flux2_ae  # noqa: E402  (its shims)
import flux2_pipeline_weights as pw  # noqa: E402
import flux2_transformer  # noqa: E402
import qwen3_text  # noqa: E402

CASES = {"a": ("a red fox in the snow, watercolour", 32, 48, 3, 0),
         "b": ("make the fox blue", 32, 32, 2, 1),
         "c": ("the fox from the first picture in the room of the second", 32, 32, 2, 2)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flux2-src", required=True)
    ap.add_argument("--modeling", required=True, help="transformers' models/qwen3/modeling_qwen3.py")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    sys.modules["einops"] = types.SimpleNamespace(rearrange=flux2_transformer.rearrange)  # both modules' patterns
    sys.modules["torchvision"] = types.SimpleNamespace()
    if not hasattr(torch.nn.functional, "scaled_dot_product_attention"):
        torch.nn.functional.scaled_dot_product_attention = flux2_ae.sdpa
    sys.path.insert(0, a.flux2_src)
    from flux2.autoencoder import AutoEncoder, AutoEncoderParams
    from flux2.model import Flux2, Flux2Params
    from flux2.sampling import denoise, get_schedule

    w = pw.weights()
    model = Flux2(Flux2Params(**pw.TRANSFORMER)).double().eval()
    model.load_state_dict({k: torch.from_numpy(v.astype(np.float64)) for k, v in w["transformer"].items()},
                          strict=True)
    c = pw.AE
    ae = AutoEncoder(AutoEncoderParams(resolution=32, in_channels=c["in_channels"], ch=c["ch"], out_ch=c["out_ch"],
                                       ch_mult=c["ch_mult"], num_res_blocks=c["num_res_blocks"],
                                       z_channels=c["z_channels"])).double().eval()
    state = {k: torch.from_numpy(v.astype(np.float64)) for k, v in w["ae"].items()}
    state["bn.num_batches_tracked"] = ae.bn.num_batches_tracked
    ae.load_state_dict(state, strict=True)
    text = qwen3_text.Reference(qwen3_text.load_reference(a.modeling), pw.QWEN3, w["text_encoder"])
    vocab, merges, added = pw.tokenizer()
    C, scale = 4 * c["z_channels"], 2 * 2 ** (len(c["ch_mult"]) - 1)
    g = torch.Generator().manual_seed(37)
    io, meta = {}, {}
    for case, (prompt, H, W, steps, nref) in CASES.items():
        lh, lw = H // scale, W // scale
        ids, mask = bbpe_ref.klein_tokens(prompt, vocab, merges, added)
        hidden = text.hidden_states(torch.tensor([ids]), torch.tensor([mask]))
        L = pw.QWEN3["num_hidden_layers"]
        ctx = torch.cat([hidden[k] for k in (L // 4, L // 2, 3 * L // 4)], dim=-1)
        ctx_ids = torch.tensor([(0, 0, 0, i) for i in range(len(ids))], dtype=torch.float64)[None]
        noise = torch.randn(1, C, lh, lw, generator=g, dtype=torch.float64)
        x = noise.reshape(1, C, lh * lw).permute(0, 2, 1)
        x_ids = flux2_transformer.ids(0, lh, lw)
        ref = ref_ids = None
        with torch.no_grad():
            if nref:  # image i: its latent's tokens at time position 10 + 10 i
                image = torch.randint(0, 256, (nref, 3, H, W), generator=g).to(torch.float64)
                z = ae.encode(image / 127.5 - 1)
                ref = torch.cat([z[i:i + 1].reshape(1, C, lh * lw).permute(0, 2, 1) for i in range(nref)], dim=1)
                ref_ids = torch.cat([flux2_transformer.ids(10 + 10 * i, lh, lw) for i in range(nref)], dim=1)
                io[case + ".image"] = image.float().numpy()
            ts = get_schedule(steps, lh * lw)
            x = denoise(model, x, x_ids, ctx, ctx_ids, ts, 1.0, img_cond_seq=ref, img_cond_seq_ids=ref_ids)
            out = ae.decode(x.permute(0, 2, 1).reshape(1, C, lh, lw))
        io[case + ".noise"] = noise.float().numpy()
        io[case + ".out"] = out.float().numpy()
        meta[case + ".prompt"] = prompt
        meta[case + ".steps"] = str(steps)
    os.makedirs(a.out, exist_ok=True)
    save(os.path.join(a.out, "io.safetensors"), io, meta)
    print("wrote", a.out)


if __name__ == "__main__":
    main()
