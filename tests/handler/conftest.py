"""Fixtures for the verifier handler tests; the fakes themselves live in verifier_fakes.py."""
import sys
from pathlib import Path

# Test folders have no __init__.py; make the shared fakes importable by name from the test modules.
sys.path.insert(0, str(Path(__file__).parent))

from verifier_fakes import (  # noqa: E402,F401
    aws_env, blackhole, empty_account, fake_time, kube_server, long_lived_heap_frozen, misnamed_server, moto_engine, pki,
    pre117_server, rogue_pki, runtime, world, world_image,
)
