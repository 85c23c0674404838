"""Builds a client-go source tree with TLS for compat-tests/go-tls from the released v2.1.2.

The Go module proxy serves released versions only, and no release has TLS yet (upstream added
it after v2.1.2, commit c9e197c, "support tls connection"). So the harness takes v2.1.2 from the
module proxy and makes the same small change itself: a ``UseTls`` flag on the remoting config,
a TLS dial that trusts any server certificate when it is set, and ``WithTls`` options for the
producer, the consumer and admin (each sets the flag on the client's remoting config, as
upstream does). Every edit checks its anchor, so a changed source fails loudly, never silently.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

BASE_VERSION = "v2.1.2"
UPSTREAM_COMMIT = "c9e197c"

# (file, anchor, replacement); the anchor must occur exactly once.
_EDITS = [
    ("internal/remote/remote_client.go",
     "type RemotingClientConfig struct {\n\tTcpOption\n}",
     "type RemotingClientConfig struct {\n\tTcpOption\n\tUseTls bool\n}"),
    ("internal/remote/remote_client.go",
     "RemotingClientConfig{defaultTcpOption}",
     "RemotingClientConfig{TcpOption: defaultTcpOption}"),
    ("internal/remote/tcp_conn.go",
     '\tconn, err := d.DialContext(ctx, "tcp", addr)\n',
     '\tvar conn net.Conn\n\tvar err error\n\tif config.UseTls {\n'
     '\t\tconn, err = tls.DialWithDialer(&d, "tcp", addr, &tls.Config{InsecureSkipVerify: true})\n'
     '\t} else {\n\t\tconn, err = d.DialContext(ctx, "tcp", addr)\n\t}\n'),
    ("internal/remote/tcp_conn.go", 'import (\n', 'import (\n\t"crypto/tls"\n'),
]

_APPENDS = [
    ("producer/option.go", "\n// WithTls: TLS on every connection of the client (compat backport).\n"
     "func WithTls(useTls bool) Option {\n\treturn func(opts *producerOptions) {\n"
     "\t\topts.ClientOptions.RemotingClientConfig.UseTls = useTls\n\t}\n}\n"),
    ("consumer/option.go", "\n// WithTls: TLS on every connection of the client (compat backport).\n"
     "func WithTls(useTls bool) Option {\n\treturn func(opts *consumerOptions) {\n"
     "\t\topts.ClientOptions.RemotingClientConfig.UseTls = useTls\n\t}\n}\n"),
    ("admin/admin.go", "\n// WithTls: TLS on every connection of the client (compat backport).\n"
     "func WithTls(useTls bool) AdminOption {\n\treturn func(options *adminOptions) {\n"
     "\t\toptions.ClientOptions.RemotingClientConfig.UseTls = useTls\n\t}\n}\n"),
]


class BackportError(Exception):
    pass


def make_tree(released: Path, dest: Path) -> None:
    """Copies the released module at ``released`` (read-only in the module cache) to ``dest``
    and applies the edits; raises BackportError when an anchor is missing or ambiguous."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(released, dest)
    for root, dirs, files in os.walk(dest):
        for name in dirs + files:
            p = Path(root) / name
            p.chmod(p.stat().st_mode | stat.S_IWUSR)
    dest.chmod(dest.stat().st_mode | stat.S_IWUSR)
    for rel, anchor, repl in _EDITS:
        p = dest / rel
        text = p.read_text()
        if text.count(anchor) != 1:
            raise BackportError(f"{rel}: anchor found {text.count(anchor)} times: {anchor!r}")
        p.write_text(text.replace(anchor, repl))
    for rel, tail in _APPENDS:
        p = dest / rel
        text = p.read_text()
        if "func WithTls(" in text:
            raise BackportError(f"{rel} already has WithTls: not the released {BASE_VERSION}?")
        p.write_text(text + tail)
