"""The deployment examples the README quotes stay the files shipped in deploy/."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_readmes_nginx_excerpt_is_taken_from_deploy_nginx_mtls_conf() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```nginx\n(.*?)```", readme, flags=re.DOTALL)
    shipped = {" ".join(line.split()) for line in
               (ROOT / "deploy" / "nginx-mtls.conf").read_text(encoding="utf-8").splitlines()}
    quoted = [" ".join(line.split()) for block in blocks for line in block.splitlines()]
    assert blocks
    assert [line for line in quoted if line and line not in shipped] == []
