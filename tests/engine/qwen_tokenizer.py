"""Qwen's byte-level BPE tokenizer (FLUX.2 [klein]'s text encoder) against an independent one.

No tokenizer file of the real model may be downloaded, so the test makes its own: it trains a
small byte-level BPE vocabulary on a mixed-language text, with the pre-tokenizer pattern Qwen2
publishes run by Python's `regex` module, and writes it in both of Hugging Face's layouts
(tokenizer.json; vocab.json + merges.txt + tokenizer_config.json). The expected ids come from the
GPT-2 algorithm written out in tools/golden/bbpe_ref.py (added tokens split first, NFC, the
pattern, bytes to GPT-2's printable characters, merges by rank); `imgapi debug qwen-tokenizer` must give the same ids, and
the 512 ids FLUX.2 [klein] feeds its text encoder: Qwen3's chat template with thinking off, cut
to 512, right-padded with <|endoftext|>."""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "golden"))
from bbpe_ref import BYTE, encode, train, write_tokenizer_json, write_vocab_merges  # noqa: E402
from harness import main, test  # noqa: E402

BIN = os.environ.get("IMGAPI_PROD_BIN", "build/imgapi")
TMP = tempfile.mkdtemp(prefix="imgapi-qwen-tok-")
CORPUS = """A photograph of an astronaut riding a horse on the moon, highly detailed.
The cat's whiskers weren't long; they'd grown 12345 times slower than we'll ever know!!!
Ein Hund läuft über die Straße.  Der Mädchen-Chor singt. Ça va très bien, merci.
Un niño juega al fútbol en la calle.   Уличный кот спит на солнце. 十岁女孩在公园放风筝。
    indented line\twith tab\r\nwindows line\n\n\nmany newlines   trailing spaces   
price: $9.99 -- 50% off!!! (limited) [offer] {json: "value"} <tag> ... ?? ¿qué? ¡sí!
"""


def write_layouts(vocab, merges, added):
    one = os.path.join(TMP, "tokenizer.json")
    write_tokenizer_json(one, vocab, merges, added)
    two = os.path.join(TMP, "split")
    write_vocab_merges(two, vocab, merges, added)
    return one, two


CASES = [
    "a photograph of an astronaut riding a horse",
    "I'm sure they'D say DON'T, we'll see; it's 'quoted'",
    "'tis the season, o'clock, rock'n'roll, we'veall, I'MOK, y'all'dve",
    "x\x1c\x1c! y\x1f\x1f? a\x1cb\x1f c\u2007d\u00a0e\u200bf\u3000g\u0085h\u2028i (white space and what is not)",
    "end!!!\n\nnext?\r\n\r\nthen ;;\n done",
    "12345 and 3.14159 and ٣٤ and ½ and Ⅻ",
    "hello   world  \n\n  trailing   ",
    "tabs\tand\r\nwindows\r\n\r\nlines\n",
    "!!!??? ...\n\n--- (x) [y] {z}",
    "Ein Hund läuft über die Straße",
    "e\u0301te\u0301 (decomposed accents, NFC makes them one)",
    "十岁女孩在公园放风筝，水彩画",
    "Уличный кот спит на солнце",
    "emoji 👍🏽 and 🐱🐶 and non-BMP 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "<|im_start|>user\nhi<|im_end|>\n<think>\n\n</think>\n\n",
    "text<|endoftext|>more<|im_end|><|im_end|>",
    "<not a token> <|im_star|> <think",
    "   leading spaces and a lone '",
    "zzqx wordsnotinthecorpus ǅ ǈ ß",
    "",
    " ",
    "\n",
]


def run(path, prompts, name):
    inp = os.path.join(TMP, name + ".in.json")
    out = os.path.join(TMP, name + ".out.json")
    with open(inp, "w", encoding="utf-8") as f:
        json.dump({"cases": [{"name": str(i), "prompt": p} for i, p in enumerate(prompts)]}, f, ensure_ascii=False)
    p = subprocess.run([BIN, "debug", "qwen-tokenizer", "--weights", path, "--inputs", inp, "--out", out],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    with open(out, encoding="utf-8") as f:
        return json.load(f)["cases"], p


@test
def test_ids_match_the_gpt2_algorithm_in_both_file_layouts():
    vocab, merges, added = train(CORPUS * 3 + "\n".join(CASES), 1500)
    assert len(merges) >= 800, len(merges)
    one, two = write_layouts(vocab, merges, added)
    for layout in (one, two):
        got, _ = run(layout, CASES, "ids")
        for prompt, case in zip(CASES, got):
            want = encode(prompt, vocab, merges, added)
            assert case["ids"] == want, (layout, prompt, case["ids"], want)
    print(f"     {len(CASES)} texts, {len(vocab) + len(added)} ids, both layouts")


@test
def test_klein_prompt_is_the_chat_template_cut_and_padded_to_512():
    vocab, merges, added = train(CORPUS * 3, 400)
    one, _ = write_layouts(vocab, merges, added)
    long_prompt = "a red fox in the snow, " * 200
    prompts = ["a red fox in the snow", "", long_prompt]
    got, _ = run(one, prompts, "klein")
    pad = added["<|endoftext|>"]
    for prompt, case in zip(prompts, got):
        want = encode(f"<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
                      vocab, merges, added)
        n = min(len(want), 512)
        assert case["klein_len"] == n, (case["klein_len"], n)
        assert case["klein_ids"] == want[:n] + [pad] * (512 - n)
    assert got[2]["klein_len"] == 512  # the long prompt is cut, its template's end with it


@test
def test_files_that_are_no_byte_level_bpe_are_clear_errors():
    vocab, merges, added = train(CORPUS, 50)
    bad = dict(vocab)
    del bad[BYTE[ord("a")]]
    path = os.path.join(TMP, "nobyte.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"model": {"type": "BPE", "vocab": bad, "merges": []}}, f)
    inp = os.path.join(TMP, "x.json")
    with open(inp, "w") as f:
        json.dump({"cases": [{"name": "a", "prompt": "a"}]}, f)
    for path, words in ((path, "byte"), (os.path.join(TMP, "missing.json"), "cannot read"),
                        (inp, "BPE")):
        p = subprocess.run([BIN, "debug", "qwen-tokenizer", "--weights", path, "--inputs", inp, "--out",
                            os.path.join(TMP, "x.out")], capture_output=True, text=True, timeout=60)
        assert p.returncode == 1 and words in p.stderr, (path, p.stderr)
    # a merge naming a symbol the vocabulary lacks
    path = os.path.join(TMP, "badmerge.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"model": {"type": "BPE", "vocab": vocab, "merges": ["q \u0100\u0100\u0100"]}}, f)
    p = subprocess.run([BIN, "debug", "qwen-tokenizer", "--weights", path, "--inputs", inp, "--out",
                        os.path.join(TMP, "x.out")], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "merge 1" in p.stderr, p.stderr


if __name__ == "__main__":
    main()
