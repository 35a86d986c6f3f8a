"""Test hosts: network namespaces made by the test, each joined to this
host by a veth pair, for tests of what crosses a network. Root only; every
namespace and link is removed afterwards."""
import contextlib
import subprocess
import uuid


class Host(object):
    """A namespace: ``server_address`` is this host's side of its link."""

    def __init__(self, name, server_address):
        self.name, self.server_address = name, server_address

    def command(self, argv):
        """`argv` run inside the namespace."""
        return ['ip', 'netns', 'exec', self.name] + list(argv)


def _ip(*arguments):
    subprocess.run(('ip',) + arguments, check=True, timeout=30,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@contextlib.contextmanager
def namespaces(count):
    """`count` hosts, each on a /30 of 10.231.x.0 of its own."""
    tag = uuid.uuid4().hex[:6]
    made, hosts = [], []
    try:
        for index in range(count):
            name = 'blt{}{}'.format(tag, index)
            outside, inside = 'vh{}{}'.format(tag, index), 'vn{}{}'.format(
                tag, index)
            _ip('netns', 'add', name)
            made.append(('netns', name))
            _ip('link', 'add', outside, 'type', 'veth', 'peer', 'name',
                inside)
            made.append(('link', outside))
            _ip('link', 'set', inside, 'netns', name)
            base = '10.231.{}.'.format(index + 1)
            _ip('addr', 'add', base + '1/30', 'dev', outside)
            _ip('link', 'set', outside, 'up')
            for arguments in (('addr', 'add', base + '2/30', 'dev', inside),
                              ('link', 'set', inside, 'up'),
                              ('link', 'set', 'lo', 'up')):
                _ip('netns', 'exec', name, 'ip', *arguments)
            hosts.append(Host(name, base + '1'))
        yield hosts
    finally:
        for kind, name in reversed(made):
            subprocess.run(['ip', kind, 'del', name], timeout=30,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
