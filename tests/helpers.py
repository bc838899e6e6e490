"""Shared test helpers: build apps exactly as `cdk synth` does, once per configuration."""
from __future__ import annotations

import collections
import copy
import functools
import importlib.util
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template

from app import CLI_CONTEXT
from tests.tempdirs import contain_temp_dirs

__all__ = ["CLI_CONTEXT", "REPO", "bundled_template", "construct_template", "cdk_json_context", "new_app", "new_outdir", "no_credentials_env", "normalised", "only_resource", "synth_bundled_app"]

REPO = Path(__file__).resolve().parents[1]
_ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")


def no_credentials_env(tmp: Path) -> dict[str, str]:
    """This environment without AWS credentials or CDK/make settings, its temporary files under ``tmp``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_", "MAKE"))}
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(tmp / "none"), AWS_CONFIG_FILE=str(tmp / "none"),
               AWS_EC2_METADATA_DISABLED="true", TMPDIR=str(tmp))
    return env


def cdk_json_context() -> dict[str, Any]:
    """The context `cdk synth` sees: cdk.json's (feature flags included) plus the CLI's own."""
    return {**json.loads((REPO / "cdk.json").read_text())["context"], **CLI_CONTEXT}


#: The latest test apps' output directories, and the assets already staged in one of them, by directory name.
_OUTDIRS: collections.deque[Path] = collections.deque(maxlen=16)
_STAGED: dict[str, Path] = {}


def new_outdir(prefix: str = "cdk-test-") -> str:
    """A fresh output directory for a test App, holding the assets earlier test apps staged.

    CDK stages an asset by copying it into ``<outdir>/asset.<content hash>`` while the construct is built
    (the verifier's handler, the provider framework: about 35 ms each), and skips the copy when that
    directory exists. The name is the hash of the content, so a directory staged by an earlier app is the
    same asset; it is linked in, not copied again. Templates and asset manifests do not change.
    """
    for outdir in _OUTDIRS:
        with os.scandir(outdir) as entries:
            for entry in entries:
                if entry.name.startswith("asset.") and entry.name not in _STAGED and entry.is_dir(follow_symlinks=False):
                    _STAGED[entry.name] = Path(entry.path)
    outdir = Path(tempfile.mkdtemp(prefix=prefix, dir=contain_temp_dirs()))
    for name, staged in _STAGED.items():
        if staged.is_dir():
            (outdir / name).symlink_to(staged, target_is_directory=True)
    _OUTDIRS.append(outdir)
    return str(outdir)


def new_app(**overrides: Any) -> cdk.App:
    context = copy.deepcopy(cdk_json_context())
    context.update(overrides)
    # CDK's built-in CloudFormation validation is off, as in app.py: `make test` synthesizes the app with it
    # on (CDK_VALIDATION=true) and lints every template with cfn-lint; here it would double each synth's cost.
    return cdk.App(context=context, outdir=new_outdir(), builtin_cloud_formation_validation=False)


@functools.lru_cache(maxsize=None)
def _synth_bundled(overrides_json: str) -> cdk.cx_api.CloudAssembly:
    from app import build_app

    app = build_app(new_app(**json.loads(overrides_json)))
    return app.synth()


def synth_bundled_app(**overrides: Any) -> cdk.cx_api.CloudAssembly:
    """Synthesize the bundled app with cdk.json context plus overrides; cached per configuration."""
    return _synth_bundled(json.dumps(overrides, sort_keys=True))


def bundled_template(**overrides: Any) -> Template:
    assembly = synth_bundled_app(**overrides)
    (stack,) = assembly.stacks
    return Template.from_json(stack.template)


@functools.lru_cache(maxsize=None)
def _construct_template(props_json: str) -> Template:
    from eks_envelope import EnvelopeEncryptedCluster

    stack = cdk.Stack(new_app(), "EksEnvelope")  # the app's stack name, so logical ids compare across the two
    EnvelopeEncryptedCluster(stack, "Cluster", **json.loads(props_json))
    return Template.from_stack(stack)


def construct_template(**props: Any) -> Template:
    """EnvelopeEncryptedCluster with ``props`` (JSON values) alone on a bare stack, as a composer builds it:
    no app settings, no packs, no outputs. Cached per props."""
    return _construct_template(json.dumps(props, sort_keys=True))


def normalised(template: dict[str, Any]) -> dict[str, Any]:
    """The template with asset hashes replaced, so snapshots change only when the infrastructure does."""
    return json.loads(_ASSET_HASH.sub("<asset-hash>", json.dumps(template, sort_keys=True)))


def only_resource(template: Template, cfn_type: str) -> dict[str, Any]:
    found = template.find_resources(cfn_type)
    assert len(found) == 1, f"expected one {cfn_type}, found {sorted(found)}"
    return next(iter(found.values()))


def load_module(name: str, path: Path) -> Any:
    """A module from a file that is no package member (scripts, the composition example, the integ app)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


@functools.lru_cache(maxsize=None)
def scan_script() -> Any:
    """scripts/scan.py (`make scan`): standard library only, so importable from the main virtualenv."""
    return load_module("scan_script", REPO / "scripts" / "scan.py")


@functools.lru_cache(maxsize=None)
def consumer_example_assembly() -> cdk.cx_api.CloudAssembly:
    """examples/consumer/consumer_app.py (as docs/library.md shows it), synthesized once per test session."""
    app = new_app()
    load_module("consumer_app", REPO / "examples" / "consumer" / "consumer_app.py").build(app)
    return app.synth()


@functools.lru_cache(maxsize=None)
def integ_app_assembly() -> cdk.cx_api.CloudAssembly:
    """tests/integ/integ_envelope.py, synthesized once per test session."""
    app = new_app()
    load_module("integ_envelope", REPO / "tests" / "integ" / "integ_envelope.py").build(app)
    return app.synth()
