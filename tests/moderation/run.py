"""Moderation corpus test: every labelled prompt through `imgapi moderate` at both levels;
reports precision and recall per category, requires zero refusals of allowed prompts and at
least 95% recall on refused ones (a refusal under another category still counts as refused)."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
from harness import main, test  # noqa: E402

BIN = os.environ.get("IMGAPI_PROD_BIN", "build/imgapi")


def corpus():
    rows = []
    with open(os.path.join(HERE, "corpus.tsv"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            auto, low, prompt = line.rstrip("\n").split("\t")
            rows.append((auto, low, prompt))
    return rows


def classify(prompts, level):
    p = subprocess.run([BIN, "moderate", "--level", level], input="\n".join(prompts) + "\n",
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    out = p.stdout.splitlines()
    assert len(out) == len(prompts)
    return out


def check_level(level, col):
    rows = corpus()
    got = classify([r[2] for r in rows], level)
    want = [r[col] for r in rows]
    cats = sorted({w for w in want if w != "allow"} | {g for g in got if g != "allow"})
    false_refusals = [r[2] for r, g in zip(rows, got) if r[col] == "allow" and g != "allow"]
    refused = [(w, g) for w, g in zip(want, got) if w != "allow"]
    recall_any = sum(1 for w, g in refused if g != "allow") / max(len(refused), 1)
    print(f"     level {level}: {len(rows)} prompts, {sum(1 for w in want if w == 'allow')} allowed, "
          f"{len(refused)} to refuse; false refusals {len(false_refusals)}, recall {recall_any:.3f}")
    for c in cats:
        tp = sum(1 for w, g in zip(want, got) if w == c and g == c)
        fp = sum(1 for w, g in zip(want, got) if w != c and g == c)
        fn = sum(1 for w, g in zip(want, got) if w == c and g != c)
        prec = tp / (tp + fp) if tp + fp else 1.0
        rec = tp / (tp + fn) if tp + fn else 1.0
        print(f"       {c:14s} precision {prec:.3f} recall {rec:.3f} (n={tp + fn})")
    assert not false_refusals, false_refusals
    assert recall_any >= 0.95, recall_any


@test
def test_corpus_has_200_labelled_prompts_with_traps():
    rows = corpus()
    assert len(rows) >= 200
    prompts = " ".join(r[2] for r in rows).lower()
    for trap in ("scunthorpe", "shooting star", "cocktail", "breast stroke"):
        assert trap in prompts


@test
def test_corpus_level_auto():
    check_level("auto", 0)


@test
def test_corpus_level_low():
    check_level("low", 1)


@test
def test_rules_file_errors_are_clear():
    import tempfile
    d = tempfile.mkdtemp()
    bad = os.path.join(d, "rules.txt")
    with open(bad, "w") as f:
        f.write("version 1\ncategory x auto\nterm nosuchcategory word\n")
    p = subprocess.run([BIN, "moderate", "x", "--moderation-rules", bad], capture_output=True, text=True)
    assert p.returncode == 1 and "line 3" in p.stderr, p.stderr
    good = os.path.join(d, "good.txt")
    with open(good, "w") as f:
        f.write("version 2\ncategory fruit auto\nterm fruit banana\nallow banana bread\n")
    p = subprocess.run([BIN, "moderate", "--moderation-rules", good], input="a b4n4na\nbanana bread\n",
                       capture_output=True, text=True)
    assert p.stdout.split() == ["fruit", "allow"], p.stdout


if __name__ == "__main__":
    sys.exit(main())
