"""Run app.py as the aws-cdk CLI runs it, and record what it saw: `cdk synth --app "python tests/cli_probe.py OUT"`.

Writes OUT (JSON): ``context``, every app's context when it synthesized (``app.node.get_all_context()``), and
``cdk_nag``, the cdk_nag modules loaded by the end of the run. A test helper, not part of the app.
"""
from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import aws_cdk as cdk

REPO = Path(__file__).resolve().parents[1]


def main(out: Path) -> None:
    seen: dict[str, object] = {"context": None}
    synth = cdk.App.synth

    def recording(self: cdk.App, *args: object, **kwargs: object) -> object:
        seen["context"] = self.node.get_all_context()
        return synth(self, *args, **kwargs)

    cdk.App.synth = recording
    sys.argv = [str(REPO / "app.py")]
    sys.path[0] = str(REPO)  # as `python app.py` has it (here it is tests/)
    try:
        runpy.run_path(str(REPO / "app.py"), run_name="__main__")
    finally:
        seen["cdk_nag"] = sorted(m for m in sys.modules if m.split(".")[0] == "cdk_nag")
        out.write_text(json.dumps(seen))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
