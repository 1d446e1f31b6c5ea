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
