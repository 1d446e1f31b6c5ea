"""The small FLUX.2 [klein]-shaped model the pipeline goldens in tests/engine/data/flux2_pipeline
were made with, from seeds (numpy only; the tests write the files again instead of committed
copies): a transformer, an autoencoder and a Qwen3 text encoder whose sizes fit together (latent
4 * z = 16 channels, context 3 x the text encoder's 32), and a byte-level BPE tokenizer trained on
a short text (its ids below the text encoder's vocabulary)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
import bbpe_ref  # noqa: E402
import flux2_ae_weights  # noqa: E402
import flux2_transformer_weights  # noqa: E402
import qwen3_text_weights  # noqa: E402

TRANSFORMER = {"in_channels": 16, "context_in_dim": 96, "hidden_size": 64, "num_heads": 2, "depth": 1,
               "depth_single_blocks": 1, "axes_dim": [8, 8, 8, 8], "theta": 2000, "mlp_ratio": 3.0}
AE = {"ch": 32, "ch_mult": [1, 2], "num_res_blocks": 1, "z_channels": 4, "in_channels": 3, "out_ch": 3}
QWEN3 = {"vocab_size": 400, "hidden_size": 32, "intermediate_size": 48, "num_attention_heads": 2,
         "num_key_value_heads": 1, "head_dim": 16, "num_hidden_layers": 4, "rope_theta": 1000000.0,
         "rms_norm_eps": 1e-6}
CORPUS = ("a red fox in the snow, watercolour. make the fox blue. a photograph of a cat on a sofa, "
          "soft light, highly detailed. user assistant think\n\n") * 4


def weights():
    """{"transformer": ..., "ae": ..., "text_encoder": ...}: name -> float32 array each."""
    return {"transformer": flux2_transformer_weights.weights(41, TRANSFORMER),
            "ae": flux2_ae_weights.weights(42, AE),
            "text_encoder": qwen3_text_weights.weights(43, QWEN3)}


def tokenizer():
    """(vocab, merges, added) as bbpe_ref.train gives them: 120 merges, 381 ids."""
    vocab, merges, added = bbpe_ref.train(CORPUS, 120)
    assert max(added.values()) < QWEN3["vocab_size"]
    return vocab, merges, added


def write(folder):
    """The four files the pipeline loads, in folder; returns their paths by role."""
    from safetensors_np import save
    os.makedirs(folder, exist_ok=True)
    paths = {k: os.path.join(folder, k + ".safetensors") for k in ("transformer", "ae", "text_encoder")}
    for k, w in weights().items():
        save(paths[k], w)
    paths["tokenizer"] = os.path.join(folder, "tokenizer.json")
    bbpe_ref.write_tokenizer_json(paths["tokenizer"], *tokenizer())
    return paths
