#!/usr/bin/env python3
"""Golden tensors for the Qwen3 text model FLUX.2 [klein] encodes prompts with (issue 33), made
with the reference code: Hugging Face transformers' `src/transformers/models/qwen3/
modeling_qwen3.py` (its RMSNorm, rotary embedding, attention and decoder layer classes), fetched
by whoever runs this and never committed here. transformers is not a Debian package: the module
is loaded alone with stand-ins for the package's other modules, written here (identity
decorators, empty base classes, ACT2FN["silu"], a config object); the causal and padding mask
create_causal_mask would build is built here (a key is seen when it is not after the query and
not padding), and the layers are run in order as Qwen3Model.forward runs them.

A small configuration (qwen3_text_weights.CONFIG: 8 layers, hidden 64, 4 query heads and 2 key /
value heads of 32 - grouped-query attention, head width set apart from hidden / heads as
Qwen3-4B's is - rope theta 1e6) with the seeded weights of qwen3_text_weights.py, in float64,
saved in float32:

  io.safetensors   a.tokens [1, 10], a.attention_mask [1, 10] (all ones); b.tokens [1, 12] with
                   its last 4 padding (mask 0) -> X.hidden_states.N [1, L, 64] (the output of the
                   first N layers) for N in 2, 4, 6 and X.ctx [1, L, 192], the three stacked along
                   the features as FLUX.2's pipeline stacks Qwen3's hidden states

Usage: tools/golden/qwen3_text.py --modeling PATH/modeling_qwen3.py --out tests/engine/data/qwen3_text
"""
import argparse
import contextlib
import importlib.util
import os
import sys
import types

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
from safetensors_np import save  # noqa: E402

import qwen3_text_weights as qw  # noqa: E402


def decorator(*args, **kw):
    """Stands for decorators used bare (@x) and with arguments (@x(...))."""
    if len(args) == 1 and callable(args[0]) and not kw:
        return args[0]
    return lambda f: f


class Interfaces(dict):
    """ALL_ATTENTION_FUNCTIONS: no registered kernels, so the module's own eager attention."""

    def get_interface(self, name, default):
        return default


class Subscriptable:
    def __class_getitem__(cls, item):
        return cls


def stand_ins(config_cls):
    mods = {}

    def mod(name, **attrs):
        m = types.ModuleType(name)
        m.__path__ = []
        for k, v in attrs.items():
            setattr(m, k, v)
        mods[name] = m

    mod("transformers")
    mod("transformers.models")
    mod("transformers.models.qwen3")
    mod("transformers.activations", ACT2FN={"silu": nn.SiLU()})
    mod("transformers.cache_utils", Cache=type("Cache", (), {}), DynamicCache=type("DynamicCache", (), {}))
    mod("transformers.generation", GenerationMixin=type("GenerationMixin", (), {}))
    mod("transformers.integrations", use_kernel_forward_from_hub=decorator, use_kernel_func_from_hub=decorator,
        use_kernelized_func=lambda *a, **k: (lambda f: f))
    mod("transformers.masking_utils", create_causal_mask=None, create_sliding_window_causal_mask=None)
    mod("transformers.modeling_flash_attention_utils", FlashAttentionKwargs=dict)
    mod("transformers.modeling_layers", GenericForQuestionAnswering=type("GQA", (), {}),
        GenericForSequenceClassification=type("GSC", (), {}), GenericForTokenClassification=type("GTC", (), {}),
        GradientCheckpointingLayer=nn.Module)
    mod("transformers.modeling_outputs", BaseModelOutputWithPast=dict, CausalLMOutputWithPast=dict)
    mod("transformers.modeling_rope_utils", ROPE_INIT_FUNCTIONS={}, dynamic_rope_update=decorator)
    mod("transformers.modeling_utils", ALL_ATTENTION_FUNCTIONS=Interfaces(), PreTrainedModel=nn.Module)
    mod("transformers.processing_utils", Unpack=Subscriptable)
    mod("transformers.utils", TransformersKwargs=dict, auto_docstring=decorator, can_return_tuple=decorator,
        check_model_inputs=decorator)
    mod("transformers.utils.generic", maybe_autocast=lambda **kw: contextlib.nullcontext(),
        merge_with_config_defaults=decorator, check_model_inputs=decorator)
    mod("transformers.utils.output_capturing", capture_outputs=decorator)
    mod("transformers.models.qwen3.configuration_qwen3", Qwen3Config=config_cls)
    sys.modules.update(mods)


class Config(types.SimpleNamespace):
    pass


def load_reference(modeling):
    """transformers' modeling_qwen3 module, loaded alone with the stand-ins above."""
    stand_ins(Config)
    spec = importlib.util.spec_from_file_location("transformers.models.qwen3.modeling_qwen3", modeling)
    mq = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mq
    spec.loader.exec_module(mq)
    return mq


class Reference:
    """The embedding and decoder layers of configuration c with weights w (float64), run in order
    as Qwen3Model.forward runs them."""

    def __init__(self, mq, c, w):
        n_layers = c["num_hidden_layers"]
        cfg = Config(hidden_size=c["hidden_size"], intermediate_size=c["intermediate_size"], hidden_act="silu",
                     num_attention_heads=c["num_attention_heads"], num_key_value_heads=c["num_key_value_heads"],
                     head_dim=c["head_dim"], rope_parameters={"rope_type": "default", "rope_theta": c["rope_theta"]},
                     max_position_embeddings=4096, rms_norm_eps=c["rms_norm_eps"], attention_bias=False,
                     attention_dropout=0.0, layer_types=["full_attention"] * n_layers, sliding_window=None,
                     _attn_implementation="eager", num_hidden_layers=n_layers, vocab_size=c["vocab_size"])
        self.embed = nn.Embedding(c["vocab_size"], c["hidden_size"]).double()
        self.embed.load_state_dict({"weight": torch.from_numpy(w["model.embed_tokens.weight"].astype(np.float64))})
        self.layers = []
        for i in range(n_layers):
            layer = mq.Qwen3DecoderLayer(cfg, i).double().eval()
            p = f"model.layers.{i}."
            layer.load_state_dict({k[len(p):]: torch.from_numpy(v.astype(np.float64)) for k, v in w.items()
                                   if k.startswith(p)}, strict=True)
            self.layers.append(layer)
        self.rotary = mq.Qwen3RotaryEmbedding(cfg)

    def hidden_states(self, tokens, mask):
        """[embedding, after layer 1, ...] for tokens [1, n] with mask [1, n] (1: token, 0:
        padding); the causal and padding mask create_causal_mask would build: a key is seen when
        it is not after the query and not padding."""
        n = tokens.shape[1]
        with torch.no_grad():
            h = self.embed(tokens)
            pos = torch.arange(n)[None]
            cos, sin = self.rotary(h, pos)
            q_i = torch.arange(n)[:, None]
            k_i = torch.arange(n)[None, :]
            seen = (k_i <= q_i) & (mask[0][None, :] == 1)
            additive = torch.zeros(n, n, dtype=torch.float64).masked_fill(~seen, torch.finfo(torch.float64).min)
            additive = additive[None, None]
            hidden = [h]
            for layer in self.layers:
                h = layer(h, attention_mask=additive, position_embeddings=(cos, sin), position_ids=pos)
                hidden.append(h)
        return hidden


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modeling", required=True, help="transformers' models/qwen3/modeling_qwen3.py")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    c = qw.CONFIG
    ref = Reference(load_reference(a.modeling), c, qw.weights())
    g = torch.Generator().manual_seed(36)
    io = {}
    for case, (n, pad) in (("a", (10, 0)), ("b", (12, 4))):
        tokens = torch.randint(0, c["vocab_size"], (1, n), generator=g)
        mask = torch.ones(1, n, dtype=torch.int64)
        if pad:
            mask[0, n - pad:] = 0
            tokens[0, n - pad:] = 0
        hidden = ref.hidden_states(tokens, mask)
        io[f"{case}.tokens"] = tokens.to(torch.int32).numpy()
        io[f"{case}.attention_mask"] = mask.to(torch.int32).numpy()
        for k in qw.STACKED:
            io[f"{case}.hidden_states.{k}"] = hidden[k].float().numpy()
        io[f"{case}.ctx"] = torch.cat([hidden[k] for k in qw.STACKED], dim=-1).float().numpy()
    os.makedirs(a.out, exist_ok=True)
    save(os.path.join(a.out, "io.safetensors"), io)
    print("wrote", a.out)


if __name__ == "__main__":
    main()
