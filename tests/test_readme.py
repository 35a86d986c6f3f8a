"""README.rst runs as written: every Python block of it, and every
``blocks-log`` command of its literal blocks, in order, in a directory of
their own (with what the demo makes, a checkpoint of Blocks, and the tests'
PostgreSQL server standing in for the README's)."""
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
import urllib.request

import pytest

from blocks_log import cli

from conftest import FIXTURES, ROOT
from helpers import readme_blocks as blocks

with open(os.path.join(ROOT, 'README.rst')) as _f:
    README = _f.read()
EXAMPLE_URL = 'postgresql://me@db.lab/runs'


def commands():
    return [line for kind, body in blocks(README) if kind == 'literal'
            for line in body.splitlines() if line.startswith('blocks-log ')]


def test_the_readme_has_examples():
    kinds = [kind for kind, _ in blocks(README)]
    assert kinds.count('python') >= 4 and len(commands()) >= 10


@pytest.fixture
def place(tmp_path, monkeypatch, request):
    monkeypatch.chdir(str(tmp_path))
    monkeypatch.setenv('BLOCKS_SQLITEDB', str(tmp_path / 'default.sqlite'))
    shutil.copy(os.path.join(FIXTURES, 'checkpoints',
                             'checkpoint_with_log.tar'),
                str(tmp_path / 'checkpoint.tar'))
    return tmp_path


def test_every_python_block_runs(place, request):
    for _, source in [block for block in blocks(README)
                      if block[0] == 'python']:
        if 'import torch' in source or 'blocks_log.integrations' in source:
            continue  # run in the framework's environment, by its tests
        if 'to_dataframe' in source or 'runs_dataframe' in source:
            pytest.importorskip('pandas')
        if EXAMPLE_URL in source:
            source = source.replace(EXAMPLE_URL, request.getfixturevalue(
                'postgresql_url'))
        exec(compile(source, 'README.rst', 'exec'), {})


def run_command(command):
    """Run a ``blocks-log`` command; ``serve`` in a process of its own
    (on a free port, ``--port 0`` overriding the one written, which may be
    taken), until its page has answered."""
    argv = shlex.split(command)[1:]
    if argv[0] != 'serve':
        return cli.main(argv, out=io.StringIO())
    process = subprocess.Popen(
        [sys.executable, '-m', 'blocks_log'] + argv + ['--port', '0'],
        stdout=subprocess.PIPE, universal_newlines=True,
        env=dict(os.environ, PYTHONPATH=ROOT))
    try:
        line = process.stdout.readline()
        with urllib.request.urlopen(line.split(' at ')[1].split()[0],
                                    timeout=30) as response:
            return 0 if response.status == 200 else response.status
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_every_command_runs_on_what_the_demo_makes(place, capsys):
    for command in commands():
        argv = shlex.split(command)[1:]
        if argv[0] == 'plot' and '-o' in argv:
            pytest.importorskip('matplotlib')
        if 'checkpoint.tar' in argv:
            pytest.importorskip('numpy')
        assert run_command(command) == 0, (command, capsys.readouterr().err)


def test_what_the_demo_suggests_runs(place):
    out = io.StringIO()
    assert cli.main(['demo', '--database', 'suggested.sqlite',
                     '--iterations', '30'], out=out) == 0
    suggested = [line.strip() for line in out.getvalue().splitlines()
                 if line.strip().startswith('blocks-log ')]
    assert len(suggested) >= 4
    assert re.search(r'the log is in .*suggested\.sqlite', out.getvalue())
    for command in suggested:
        assert run_command(command) == 0, command


def test_the_tests_write_nothing_into_the_users_home():
    # Chromium, matplotlib and fontconfig write into $HOME: the tests give
    # them a home of their own (conftest.a_home_of_their_own).
    import pwd
    assert os.environ['HOME'] != pwd.getpwuid(os.getuid()).pw_dir
    for name in ('MPLCONFIGDIR', 'XDG_CONFIG_HOME', 'XDG_CACHE_HOME'):
        assert os.environ[name].startswith(os.environ['HOME'])


def test_the_build_is_declared():
    # pip builds with setuptools, as pyproject.toml says (it warned when
    # there was none).
    with open(os.path.join(ROOT, 'pyproject.toml')) as f:
        text = f.read()
    assert 'build-backend = "setuptools.build_meta"' in text
