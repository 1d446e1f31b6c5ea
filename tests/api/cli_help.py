"""The command line as a newcomer meets it (issue 32, first part): every command and subcommand
answers --help and -h with its own usage on standard output and exit status 0, writing no file;
`imgapi help COMMAND` is the same; `imgapi --version` names the version and commit; an option
is never taken for a prompt or a file (an unknown one is exit 2 naming it), and `--` ends the
options. The bash completion and docs/cli.md are generated from the same command table."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PROD_BIN, main, test  # noqa: E402

BIN = os.path.abspath(PROD_BIN)
COMMANDS = [["serve"], ["keys"], ["keys", "create"], ["keys", "list"], ["keys", "revoke"], ["keys", "webhook"],
            ["credits"], ["credits", "add"], ["credits", "show"], ["webhooks"], ["webhooks", "log"], ["models"],
            ["generate"], ["edit"], ["debug"], ["debug", "unet"], ["moderate"], ["bench"], ["completion"]]


def run(args, cwd):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60, cwd=cwd)


@test
def test_every_command_answers_help_and_h():
    cwd = tempfile.mkdtemp(prefix="imgapi-help-")
    for cmd in COMMANDS:
        for flag in ("--help", "-h"):
            p = run([*cmd, flag], cwd)
            assert p.returncode == 0, (cmd, flag, p.returncode, p.stderr)
            assert f"usage: imgapi {cmd[0]}" in p.stdout and not p.stderr, (cmd, flag, p.stdout[:200], p.stderr)
        # help after other arguments, and `imgapi help COMMAND`
        p = run([*cmd, "a prompt", "--help"], cwd)
        assert p.returncode == 0 and "usage:" in p.stdout, (cmd, p.stderr)
        h = run(["help", cmd[0]], cwd)
        assert h.returncode == 0 and h.stdout == run([cmd[0], "--help"], cwd).stdout
    assert os.listdir(cwd) == [], os.listdir(cwd)  # no image, no data directory
    p = run(["--help"], cwd)
    assert p.returncode == 0 and "commands:" in p.stdout
    p = run(["--version"], cwd)
    assert p.returncode == 0 and p.stdout.startswith("imgapi ") and "commit" in p.stdout, p.stdout


@test
def test_options_are_never_prompts_and_unknown_ones_are_named():
    cwd = tempfile.mkdtemp(prefix="imgapi-opts-")
    for args, name in ((["generate", "-x", "a cat"], "-x"), (["generate", "--nope", "1", "a cat"], "nope"),
                       (["edit", "-q", "in.png", "p"], "-q"), (["keys", "create", "-c", "5"], "-c"),
                       (["moderate", "-v", "a cat"], "-v"), (["help", "nosuch"], "nosuch")):
        p = run(args, cwd)
        assert p.returncode == 2 and name in p.stderr, (args, p.returncode, p.stderr)
    assert os.listdir(cwd) == [], os.listdir(cwd)
    # after --, a prompt may start with a dash
    p = run(["moderate", "--", "-a red circle"], cwd)
    assert p.returncode == 0 and p.stdout.strip() == "allow", (p.stdout, p.stderr)
    # an option of another subcommand is named as such; a flag takes no value; a value option
    # at the end wants its value
    for args, words in ((["keys", "list", "--rpm", "5"], ["--rpm", "create"]),
                        (["keys", "revoke", "x", "--url", "none"], ["--url", "webhook"]),
                        (["generate", "--async=1", "a cat"], ["--async", "no value"]),
                        (["generate", "a cat", "--seed"], ["--seed", "needs a value"]),
                        (["edit", "--async", "in.png", "p"], ["--async", "--server"])):
        p = run(args, cwd)
        assert p.returncode == 2 and all(w in p.stderr for w in words), (args, p.returncode, p.stderr)
    assert os.listdir(cwd) == [], os.listdir(cwd)
    # missing arguments: the command's usage from its table, on standard error
    for args, words in ((["generate"], ["usage: imgapi generate", "--negative-prompt P"]),
                        (["edit", "only-one.png"], ["usage: imgapi edit", "--mask PNG"]),
                        (["keys", "bogus"], ["imgapi keys create", "--rotate-secret 1"]),
                        (["credits", "add", "x"], ["imgapi credits add KEY_OR_ID USD"]),
                        (["webhooks"], ["imgapi webhooks log", "--key KEY_OR_ID"])):
        p = run(args, cwd)
        assert p.returncode == 2 and all(w in p.stderr for w in words) and not p.stdout, (args, p.stderr)


@test
def test_flags_and_short_options_from_the_table():
    """A flag never swallows the next argument: `--async` before the prompt leaves the prompt a
    prompt (here it reaches the remote path, which wants a server), and -o is --out."""
    cwd = tempfile.mkdtemp(prefix="imgapi-flags-")
    env = {k: v for k, v in os.environ.items() if k != "IMGAPI_API_KEY"}
    p = subprocess.run([BIN, "generate", "--async", "a cat"], capture_output=True, text=True, cwd=cwd,
                       env=env, timeout=60)
    assert p.returncode == 2 and "--server" in p.stderr, p.stderr
    p = subprocess.run([BIN, "generate", "--server", "http://127.0.0.1:9", "a cat"], capture_output=True,
                       text=True, cwd=cwd, env=env, timeout=60)
    assert p.returncode == 2 and "API key" in p.stderr, p.stderr
    # the environment supplies --api-key (IMGAPI_API_KEY, as the table says): then the request is
    # made, and fails on the closed port
    env["IMGAPI_API_KEY"] = "sk-test"
    p = subprocess.run([BIN, "generate", "--server", "http://127.0.0.1:9", "a cat"], capture_output=True,
                       text=True, cwd=cwd, env=env, timeout=60)
    assert p.returncode == 1 and "API key" not in p.stderr, p.stderr
    out = os.path.join(cwd, "cat.png")
    p = subprocess.run([BIN, "generate", "-o", out, "--size", "1024x1024", "--quality", "low", "--", "a cat"],
                       capture_output=True, text=True, cwd=cwd, timeout=300)
    assert p.returncode == 0 and os.path.getsize(out) > 0, p.stderr
    h = run(["generate", "--help"], cwd).stdout
    assert "-o, --out FILE" in h and "[env IMGAPI_API_KEY]" in h and "--async " in h, h


@test
def test_bench_shows_progress_on_a_terminal_only():
    """`imgapi bench` (the built-in model, one run): a status line on a terminal's standard
    error (the load's bar, each run), nothing on a pipe; its report on standard output either way."""
    import pty
    cwd = tempfile.mkdtemp(prefix="imgapi-bench-")
    p = run(["bench", "--runs", "1", "--edit", "0.5"], cwd)
    assert p.returncode == 0 and p.stderr == "" and "unet step" in p.stdout, (p.returncode, p.stderr)
    import threading
    master, slave = pty.openpty()
    chunks = []

    def drain():  # read the terminal while the bench writes, so that it never blocks on it
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    q = subprocess.Popen([BIN, "bench", "--runs", "1", "--edit", "0.5"], stdout=subprocess.PIPE, stderr=slave,
                         cwd=cwd)
    os.close(slave)
    out = q.communicate(timeout=300)[0]
    reader.join(timeout=30)
    os.close(master)
    err = b"".join(chunks)
    text = err.decode("utf-8", "replace")
    assert q.returncode == 0 and b"unet step" in out, q.returncode
    assert "loading the model" in text and "generation 1 of 1" in text and "image to image 1 of 1" in text, text[-300:]


@test
def test_every_command_in_the_readme_parses():
    import shlex
    readme = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "README.md")).read()
    blocks = readme.split("```")[1::2]  # the fenced code blocks
    cmds = []
    for b in blocks:
        text = b.replace("\\\n", " ")
        for line in text.splitlines():
            for seg in line.split(" #")[0].replace("&&", ";").split(";"):
                seg = seg.strip()
                if seg.startswith("./build/imgapi"):
                    cmds.append(shlex.split(seg, posix=True))
    assert len(cmds) >= 2, cmds
    cwd = tempfile.mkdtemp(prefix="imgapi-readme-")
    for c in cmds:
        p = run([*c[1:], "--help"], cwd)
        assert p.returncode == 0 and "usage:" in p.stdout, (c, p.returncode, p.stderr)
    print(f"     {len(cmds)} README commands parse")


@test
def test_bash_completion_is_generated_from_the_command_table():
    cwd = tempfile.mkdtemp(prefix="imgapi-compl-")
    p = run(["completion", "bash"], cwd)
    assert p.returncode == 0 and "complete -F _imgapi imgapi" in p.stdout, p.stderr
    script = os.path.join(cwd, "imgapi.bash")
    open(script, "w").write(p.stdout)
    assert subprocess.run(["bash", "-n", script]).returncode == 0
    cases = {"imgapi ge": ["generate"], "imgapi generate --si": ["--size"], "imgapi keys c": ["create"],
             "imgapi help ed": ["edit"], "imgapi edit --ma": ["--mask"], "imgapi serve --work": ["--workers"],
             "imgapi bench --ed": ["--edit"], "imgapi completion ": None}
    for line, want in cases.items():
        sh = (f"source {script}; COMP_WORDS=({line}); COMP_CWORD=$((${{#COMP_WORDS[@]}}-1)); "
              + ('COMP_WORDS+=(""); COMP_CWORD=$((COMP_CWORD+1)); ' if line.endswith(" ") else "")
              + '_imgapi; echo "${COMPREPLY[*]}"')
        got = subprocess.run(["bash", "-c", sh], capture_output=True, text=True, cwd=cwd).stdout.split()
        if want is not None:
            assert all(w in got for w in want) and got, (line, got)
    # every command of the table is offered first, and every option a usage names
    got = subprocess.run(["bash", "-c", f"source {script}; COMP_WORDS=(imgapi ''); COMP_CWORD=1; _imgapi; "
                          'echo "${COMPREPLY[*]}"'], capture_output=True, text=True).stdout.split()
    top = run(["--help"], cwd).stdout.split("commands:")[1].split("\n\n")[0]
    names = [l.split()[0] for l in top.strip().splitlines()]
    assert names and all(n in got for n in names), (names, got)
    p = run(["completion", "zsh"], cwd)
    assert p.returncode == 2 and "zsh" in p.stderr, p.stderr


@test
def test_docs_cli_md_is_the_generated_reference():
    p = run(["help", "--markdown"], tempfile.mkdtemp())
    assert p.returncode == 0, p.stderr
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "cli.md")
    assert open(path, encoding="utf-8").read() == p.stdout, \
        "docs/cli.md is out of date: ./build/imgapi help --markdown > docs/cli.md"
    for cmd in COMMANDS:
        assert f"## imgapi {cmd[0]}" in p.stdout, cmd


if __name__ == "__main__":
    sys.exit(main())
