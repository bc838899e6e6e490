from __future__ import annotations

from verifier.stages import verification as checks
from verifier_fakes import CLUSTER


def test_happy_path_all_stages(world, runtime):
    report = checks.run_verification(world.config(pod_check=True), world.clients(), runtime)
    assert [r.status for r in report.results] == ["passed", "passed", "passed", "passed", "passed", "passed", "skipped"]
    assert report.key_arn == world.key_arn
    assert world.server.scenario.auth_rejections == []
    assert world.server.scenario.secrets == {} and world.server.scenario.pods == {}
